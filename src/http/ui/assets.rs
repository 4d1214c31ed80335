//! The dashboard's static assets, compiled into the binary: one stylesheet and
//! one script (no files beside the binary, no Node at build or run time).
//! Served without the login: they hold nothing of the schedule.

use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;

/// Where the stylesheet is served.
pub const CSS_PATH: &str = "/static/app.css";
/// Where the script is served.
pub const JS_PATH: &str = "/static/app.js";

/// The stylesheet (light and dark, phone widths).
pub const CSS: &str = include_str!("assets/app.css");
/// The script: live updates from `/events`, a running attempt's output, and
/// nothing a page needs to be read or used.
pub const JS: &str = include_str!("assets/app.js");

/// `GET /static/app.css`.
pub async fn css() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        CSS,
    )
}

/// `GET /static/app.js`.
pub async fn js() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
        ],
        JS,
    )
}
