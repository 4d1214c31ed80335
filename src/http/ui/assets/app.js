// cronbox dashboard: keeps a page up to date from the daemon's events, and
// streams a running attempt's output. Every page is whole without it.
(function () {
  "use strict";
  var main = document.getElementById("main");
  if (!main || !window.EventSource || !window.fetch) return;
  var root = document.documentElement;
  var busy = false, again = false, againWhole = false, timer = null;

  // Put the fresh page's live parts (or its whole <main>) in place of ours.
  function swap(doc, whole) {
    var fresh = doc.getElementById("main");
    if (!fresh) return;
    if (whole) {
      main.innerHTML = fresh.innerHTML;
      follow();
      return;
    }
    var parts = main.querySelectorAll("[data-live]");
    for (var i = 0; i < parts.length; i++) {
      var next = doc.getElementById(parts[i].id);
      if (next) parts[i].replaceWith(document.importNode(next, true));
    }
  }

  // Fetch this page again and swap it in: one request at a time, the last
  // wish kept.
  function refresh(whole) {
    if (busy) { again = true; againWhole = againWhole || whole; return; }
    busy = true;
    fetch(location.href, { credentials: "same-origin", headers: { Accept: "text/html" } })
      .then(function (r) { return r.ok ? r.text() : Promise.reject(r.status); })
      .then(function (text) { swap(new DOMParser().parseFromString(text, "text/html"), whole); })
      .catch(function () {})
      .then(function () {
        busy = false;
        root.dataset.refreshes = String(Number(root.dataset.refreshes || 0) + 1);
        if (again) { var w = againWhole; again = false; againWhole = false; refresh(w); }
      });
  }

  function soon() {
    clearTimeout(timer);
    timer = setTimeout(function () { refresh(false); }, 150);
  }

  var kinds = ["run_started", "attempt_started", "attempt_finished", "run_finished", "skipped", "missed", "paused",
    "job_paused", "job_resumed", "lagged"];
  var events = new EventSource(main.dataset.events);
  kinds.forEach(function (kind) { events.addEventListener(kind, soon); });
  events.onopen = function () { root.dataset.live = "on"; };
  events.onerror = function () { root.dataset.live = "retrying"; };

  var MARK = /(\[cronbox: \d+ bytes of \w+ dropped here[^\]\n]*\])/;

  // Append `text` of `stream` to `pre`, the cut marker set apart.
  function append(pre, stream, text) {
    text.split(MARK).forEach(function (piece, i) {
      if (!piece) return;
      var span = document.createElement(i % 2 ? "mark" : "span");
      span.className = i % 2 ? "dropped" : stream;
      span.textContent = piece;
      pre.appendChild(span);
    });
    pre.scrollTop = pre.scrollHeight;
  }

  // The <pre> of attempt `n` in the live output, made when first needed.
  function attemptLog(box, n) {
    var pre = box.querySelector('pre[data-attempt="' + n + '"]');
    if (pre) return pre;
    var h = document.createElement("h3");
    h.textContent = "Attempt " + n;
    pre = document.createElement("pre");
    pre.className = "log";
    pre.dataset.attempt = String(n);
    pre.setAttribute("aria-label", "Output of attempt " + n);
    pre.tabIndex = 0;
    box.appendChild(h);
    box.appendChild(pre);
    return pre;
  }

  // A running run's output, as the daemon stores it, until the run ends.
  function follow() {
    var box = main.querySelector("[data-follow]");
    if (!box) return;
    var source = new EventSource(box.dataset.follow);
    var fresh = true;
    source.addEventListener("output", function (e) {
      var o = JSON.parse(e.data);
      if (fresh) { box.textContent = ""; fresh = false; }
      append(attemptLog(box, o.attempt), o.stream, o.text);
    });
    source.addEventListener("end", function () {
      source.close();
      refresh(true);
    });
  }
  follow();
})();
