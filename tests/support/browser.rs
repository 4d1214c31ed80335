//! A headless Chromium (Debian's `chromium`) driven through the Chrome DevTools
//! Protocol over `--remote-debugging-pipe` (JSON messages ended by NUL on file
//! descriptors 3 and 4): no WebDriver, no websocket, no crate beyond the
//! standard library and tokio. Enough for the dashboard's tests: open a page,
//! evaluate script in it (waiting for a condition, bounded), set the viewport,
//! turn script off, press Tab and read the focused element's accessible name,
//! take a screenshot.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Value>>>>;

/// A running headless Chromium with one page.
pub struct Browser {
    child: Child,
    to_browser: Mutex<std::io::PipeWriter>,
    pending: Pending,
    next_id: AtomicU64,
    session: String,
    _profile: tempfile::TempDir,
}

/// Where Chromium is: `$CHROMIUM`, else `chromium` on the PATH.
pub fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("chromium"))
}

/// Chromium's answer to an evaluation whose page navigated away meanwhile.
const NAVIGATED: &str = "Inspected target navigated or closed";

impl Browser {
    /// Start Chromium headless and open a blank page.
    pub async fn start() -> Browser {
        let profile = tempfile::tempdir().expect("profile dir");
        let (from_us, to_browser) = std::io::pipe().expect("pipe");
        let (from_browser, to_us) = std::io::pipe().expect("pipe");
        let (read_fd, write_fd) = (from_us.as_raw_fd(), to_us.as_raw_fd());
        let mut command = Command::new(chromium());
        command
            .args([
                "--headless",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--hide-scrollbars",
                "--window-size=1280,800",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        // SAFETY: only async-signal-safe calls (fcntl, dup2) between fork and exec.
        unsafe {
            command.pre_exec(move || {
                // Copies above 4 first, so that a pipe already on 3 or 4 is
                // not lost (dup2 onto a different number clears close-on-exec).
                let read = libc::fcntl(read_fd, libc::F_DUPFD_CLOEXEC, 10);
                let write = libc::fcntl(write_fd, libc::F_DUPFD_CLOEXEC, 10);
                if read < 0 || write < 0 || libc::dup2(read, 3) < 0 || libc::dup2(write, 4) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        let child = command.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {} ({e}); install Debian's chromium (scripts/dev.sh test does)",
                chromium().display()
            )
        });
        drop(from_us);
        drop(to_us);
        let pending: Pending = Arc::default();
        let readers = pending.clone();
        std::thread::spawn(move || read_messages(from_browser, readers));
        let mut browser = Browser {
            child,
            to_browser: Mutex::new(to_browser),
            pending,
            next_id: AtomicU64::new(1),
            session: String::new(),
            _profile: profile,
        };
        let target = browser
            .call_browser("Target.createTarget", json!({"url": "about:blank"}))
            .await;
        let target_id = target["targetId"].as_str().expect("targetId").to_owned();
        let attached = browser
            .call_browser(
                "Target.attachToTarget",
                json!({"targetId": target_id, "flatten": true}),
            )
            .await;
        browser.session = attached["sessionId"]
            .as_str()
            .expect("sessionId")
            .to_owned();
        browser.call("Page.enable", json!({})).await;
        browser.viewport(1280, 800, false).await;
        browser
    }

    async fn send(&self, method: &str, params: Value, session: Option<&str>) -> Value {
        self.try_send(method, params, session)
            .await
            .unwrap_or_else(|error| panic!("chromium refused {method}: {error}"))
    }

    /// [`Self::send`], giving back chromium's refusal instead of panicking.
    async fn try_send(
        &self,
        method: &str,
        params: Value,
        session: Option<&str>,
    ) -> Result<Value, Value> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let mut message = json!({"id": id, "method": method, "params": params});
        if let Some(session) = session {
            message["sessionId"] = json!(session);
        }
        let (reply, answer) = oneshot::channel();
        self.pending.lock().expect("lock").insert(id, reply);
        {
            let mut pipe = self.to_browser.lock().expect("lock");
            let mut bytes = serde_json::to_vec(&message).expect("json");
            bytes.push(0);
            pipe.write_all(&bytes).expect("write to chromium");
        }
        let answer = tokio::time::timeout(Duration::from_secs(120), answer)
            .await
            .unwrap_or_else(|_| panic!("chromium did not answer {method} within 2 min"))
            .expect("chromium answered");
        if let Some(error) = answer.get("error") {
            return Err(error.clone());
        }
        Ok(answer["result"].clone())
    }

    async fn call_browser(&self, method: &str, params: Value) -> Value {
        self.send(method, params, None).await
    }

    /// A command to the page.
    pub async fn call(&self, method: &str, params: Value) -> Value {
        let session = self.session.clone();
        self.send(method, params, Some(&session)).await
    }

    /// Set the viewport (CSS pixels); `mobile` for a phone.
    pub async fn viewport(&self, width: u32, height: u32, mobile: bool) {
        self.call(
            "Emulation.setDeviceMetricsOverride",
            json!({"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile}),
        )
        .await;
    }

    /// Emulate the operator's colour preference: `dark` or `light`.
    pub async fn color_scheme(&self, scheme: &str) {
        self.call(
            "Emulation.setEmulatedMedia",
            json!({"features": [{"name": "prefers-color-scheme", "value": scheme}]}),
        )
        .await;
    }

    /// Turn the page's script off (or on again).
    pub async fn script(&self, enabled: bool) {
        self.call(
            "Emulation.setScriptExecutionDisabled",
            json!({"value": !enabled}),
        )
        .await;
    }

    /// Go to `url` and wait until its document has loaded.
    pub async fn open(&self, url: &str) {
        self.call("Page.navigate", json!({"url": url})).await;
        self.wait_for("document.readyState === 'complete'", "the page to load")
            .await;
    }

    /// Whether the page is Chromium's error page for a navigation cut by a
    /// network change: the engine adding or removing a container's interface
    /// on this host (ERR_NETWORK_CHANGED; other tests share the engine).
    async fn cut_by_network_change(&self) -> bool {
        let cut = self
            .call(
                "Runtime.evaluate",
                json!({"expression": "location.href.startsWith('chrome-error://') && document.body.innerText.includes('ERR_NETWORK_CHANGED')", "returnByValue": true}),
            )
            .await;
        cut["result"]["value"] == json!(true)
    }

    /// The value of `expression` in the page (a promise is awaited).
    pub async fn eval(&self, expression: &str) -> Value {
        let params = json!({"expression": expression, "returnByValue": true, "awaitPromise": true});
        let result = match self
            .try_send("Runtime.evaluate", params, Some(&self.session))
            .await
        {
            Ok(result) => result,
            // The expression navigated away (a form submitted, a button that
            // posts) before chromium answered: it ran, and its page has no value
            // to give (null, which no caller expecting a value accepts).
            Err(error) if error["message"] == json!(NAVIGATED) => {
                return Value::Null;
            }
            Err(error) => panic!("chromium refused Runtime.evaluate: {error}"),
        };
        if let Some(exception) = result.get("exceptionDetails") {
            panic!("{expression} threw: {exception}");
        }
        result["result"]["value"].clone()
    }

    /// Wait (at most 90 s, looking every 100 ms in the page) until
    /// `condition` is true; panic saying what was awaited if never. A
    /// navigation in between is waited out.
    pub async fn wait_for(&self, condition: &str, what: &str) {
        for _ in 0..900 {
            let params =
                json!({"expression": format!("Boolean({condition})"), "returnByValue": true});
            // A navigation while it is evaluated: not yet, look again on the new page.
            let result = self
                .try_send("Runtime.evaluate", params, Some(&self.session))
                .await
                .unwrap_or_else(|error| {
                    assert_eq!(
                        error["message"],
                        json!(NAVIGATED),
                        "chromium refused Runtime.evaluate: {error}"
                    );
                    Value::Null
                });
            if result["result"]["value"] == json!(true) {
                return;
            }
            if self.cut_by_network_change().await {
                // The cut request again (the dashboard answers each POST with
                // a redirect; the tests' jobs have no network, so a cut comes
                // from other tests' containers, rarely).
                self.call("Page.reload", json!({})).await;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let text = self
            .eval("document.body ? document.body.innerText : ''")
            .await;
        panic!("waited 90 s for {what} ({condition}); the page says:\n{text}");
    }

    /// Click the element `selector` finds, then [`Browser::wait_for`]
    /// `condition` (`what` says what is awaited).
    pub async fn click_then(&self, selector: &str, condition: &str, what: &str) {
        self.eval(&format!("document.querySelector('{selector}').click()"))
            .await;
        self.wait_for(condition, what).await;
    }

    /// The page's text.
    pub async fn text(&self) -> String {
        self.eval("document.body.innerText")
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// Press Tab once, as the keyboard does.
    pub async fn tab(&self) {
        for kind in ["keyDown", "keyUp"] {
            self.call(
                "Input.dispatchKeyEvent",
                json!({"type": kind, "key": "Tab", "code": "Tab", "windowsVirtualKeyCode": 9, "nativeVirtualKeyCode": 9}),
            )
            .await;
        }
    }

    /// The role and the accessible name Chromium computes for the element
    /// that has the focus (what a screen reader announces).
    pub async fn focused(&self) -> (String, String) {
        let focused = self
            .call(
                "Runtime.evaluate",
                json!({"expression": "document.activeElement"}),
            )
            .await;
        let object = focused["result"]["objectId"]
            .as_str()
            .expect("the focused element")
            .to_owned();
        self.call("Accessibility.enable", json!({})).await;
        let tree = self
            .call(
                "Accessibility.getPartialAXTree",
                json!({"objectId": object, "fetchRelatives": false}),
            )
            .await;
        let node = &tree["nodes"][0];
        let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
        (text(&node["role"]["value"]), text(&node["name"]["value"]))
    }

    /// Save a PNG of the viewport at `path`.
    pub async fn screenshot(&self, path: &Path) {
        let shot = self
            .call("Page.captureScreenshot", json!({"format": "png"}))
            .await;
        let data = shot["data"].as_str().expect("png data");
        let png = decode_base64(data);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).expect("screenshot dir");
        }
        std::fs::write(path, png).expect("write screenshot");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Read NUL-ended messages from Chromium and hand each answer to its caller.
fn read_messages(from_browser: std::io::PipeReader, pending: Pending) {
    let mut reader = BufReader::new(from_browser);
    let mut message = Vec::new();
    loop {
        message.clear();
        match reader.read_until(0, &mut message) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        if message.last() == Some(&0) {
            message.pop();
        }
        let Ok(value) = serde_json::from_slice::<Value>(&message) else {
            continue;
        };
        let Some(id) = value.get("id").and_then(Value::as_u64) else {
            continue; // an event
        };
        if let Some(reply) = pending.lock().expect("lock").remove(&id) {
            let _ = reply.send(value);
        }
    }
}

/// Standard base64 (with padding) to bytes.
fn decode_base64(text: &str) -> Vec<u8> {
    let value = |c: u8| match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'+' => 62,
        b'/' => 63,
        _ => panic!("not base64: {c}"),
    };
    let clean: Vec<u8> = text
        .bytes()
        .filter(|c| *c != b'=' && !c.is_ascii_whitespace())
        .collect();
    let mut out = Vec::with_capacity(clean.len() * 3 / 4);
    for group in clean.chunks(4) {
        let mut n = 0u32;
        for (i, c) in group.iter().enumerate() {
            n |= u32::from(value(*c)) << (18 - 6 * i);
        }
        let bytes = n.to_be_bytes();
        out.extend(&bytes[1..group.len()]);
    }
    out
}
