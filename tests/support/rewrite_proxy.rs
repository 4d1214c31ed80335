//! A Unix-socket proxy in front of the machine's Docker engine that shows
//! cronbox a slightly different engine: in the answers to the requests it picks,
//! one pattern is replaced by another of the same length (so the HTTP framing,
//! Content-Length or chunk sizes, is untouched). Every other byte, and every
//! other request, passes as it is. Used by `tests/limits.rs` (a host that cannot
//! enforce memory limits) and `tests/oom_signals.rs` (an engine whose
//! `OOMKilled` flag is not set). Included with `#[path]`.
//!
//! It relies on cronbox's client opening one connection per request (bollard
//! keeps no idle connection), so the first request line on a connection says
//! what its answer is. A pattern split by a chunk boundary of a chunked answer
//! would not be seen; the patterns used sit in the first few KiB of the answer.

#![allow(dead_code)] // each test binary uses its part

use std::path::{Path, PathBuf};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{UnixListener, UnixStream};

/// The engine behind the proxy.
const ENGINE: &str = "/var/run/docker.sock";

/// What the proxy changes.
#[derive(Debug, Clone, Copy)]
pub struct Rewrite {
    /// Whether to rewrite the answer to a request, from its request line
    /// (e.g. `GET /v1.41/info HTTP/1.1`).
    pub request: fn(&str) -> bool,
    /// The bytes to replace, at their first occurrence in the answer.
    pub found: &'static [u8],
    /// What replaces them: as long as `found`.
    pub replaced: &'static [u8],
    /// The pattern's other form: once seen, the answer has nothing to replace.
    pub absent: &'static [u8],
}

/// The request lines the proxy has forwarded, in order (`GET /v1.41/info HTTP/1.1`).
pub type RequestLog = std::sync::Arc<std::sync::Mutex<Vec<String>>>;

/// [`serve`], also keeping every request line in the returned log.
pub fn serve_logged(path: &Path, rewrite: Rewrite) -> (PathBuf, RequestLog) {
    let log = RequestLog::default();
    (listen(path, rewrite, Some(log.clone())), log)
}

/// Serve `path` until the test ends, forwarding to the engine and applying `rewrite`.
pub fn serve(path: &Path, rewrite: Rewrite) -> PathBuf {
    listen(path, rewrite, None)
}

fn listen(path: &Path, rewrite: Rewrite, log: Option<RequestLog>) -> PathBuf {
    assert_eq!(
        rewrite.found.len(),
        rewrite.replaced.len(),
        "a rewrite keeps the length"
    );
    let _ = std::fs::remove_file(path);
    let listener = UnixListener::bind(path).expect("bind the proxy socket");
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            tokio::spawn(forward(client, rewrite, log.clone()));
        }
    });
    path.to_owned()
}

async fn forward(client: UnixStream, rewrite: Rewrite, log: Option<RequestLog>) {
    let Ok(engine) = UnixStream::connect(ENGINE).await else {
        return;
    };
    let (mut client_read, mut client_write) = client.into_split();
    let (mut engine_read, mut engine_write) = engine.into_split();
    let mut first = vec![0u8; 16 * 1024];
    let n = match client_read.read(&mut first).await {
        Ok(0) | Err(_) => return,
        Ok(n) => n,
    };
    let line_end = first[..n].iter().position(|&b| b == b'\n').unwrap_or(n);
    let line = String::from_utf8_lossy(&first[..line_end])
        .trim_end()
        .to_owned();
    let picked = (rewrite.request)(&line);
    if let Some(log) = &log {
        log.lock().unwrap_or_else(|e| e.into_inner()).push(line);
    }
    if engine_write.write_all(&first[..n]).await.is_err() {
        return;
    }
    let up = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut client_read, &mut engine_write).await;
        let _ = engine_write.shutdown().await;
    });
    // Down: in a picked answer, hold back the last bytes that could start the
    // pattern until it is found (or its other form is); the rest passes through.
    let mut held: Vec<u8> = Vec::new();
    let mut settled = !picked;
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match engine_read.read(&mut buf).await {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        if settled {
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
            continue;
        }
        held.extend_from_slice(&buf[..n]);
        if let Some(at) = find(&held, rewrite.found) {
            held[at..at + rewrite.replaced.len()].copy_from_slice(rewrite.replaced);
            settled = true;
        } else if find(&held, rewrite.absent).is_some() {
            settled = true;
        }
        let keep = if settled {
            0
        } else {
            held.len().min(rewrite.found.len() - 1)
        };
        let out: Vec<u8> = held.drain(..held.len() - keep).collect();
        if client_write.write_all(&out).await.is_err() {
            break;
        }
    }
    let _ = client_write.write_all(&held).await;
    let _ = client_write.shutdown().await;
    up.abort();
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}
