//! The daemon's HTTP server: the JSON API under `/api/v1` (with its OpenAPI
//! document), the Prometheus metrics, the health checks. The only module that
//! imports the HTTP server (axum, tower-http).
pub mod token;
