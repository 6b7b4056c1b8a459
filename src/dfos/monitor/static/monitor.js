// dfos monitor: live updates by small fetches (no library). The AB monitor table (states, scores,
// rejected-input markers) and an action's log refresh every 2 s; the date table reloads the page when a
// date's state changes (its failed, blocked and incomplete counts included). Log views open at their last line,
// or at #first-error. Text from the server goes in as text, never as HTML.
"use strict";

function showRejected(row, items) {
  var cell = row.querySelector('[data-field="ab"]');
  row.querySelectorAll('[data-field="rejected"]').forEach(function (old) { old.remove(); });
  (items || []).forEach(function (item) {
    var marker = document.createElement("div");
    var badge = document.createElement("span");
    marker.className = "rejected-input"; marker.dataset.field = "rejected";
    badge.className = "badge"; badge.textContent = "rejected input";
    marker.appendChild(badge); marker.appendChild(document.createTextNode(" " + item.reason));
    cell.appendChild(marker);
  });
}

function showReason(cell, ab) {
  // The reason of a failed, blocked or INCOMPLETE AB, inline; a failed AB's links to its log's first error line.
  var old = cell.querySelector('[data-field="reason"]');
  if (old) { old.remove(); }
  if (!ab.reason) { return; }
  var box = document.createElement("div");
  box.className = "reason"; box.dataset.field = "reason";
  var text = box;
  if (ab.log) {
    text = document.createElement("a");
    text.href = "/file?path=" + encodeURIComponent(ab.log) + "#first-error"; text.dataset.field = "log";
    box.appendChild(text);
  }
  text.textContent = ab.reason;
  cell.appendChild(box);
}

function refreshAbs(table) {
  fetch(table.dataset.live, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
    .then(function (doc) {
      if (!doc) { return; }
      doc.abs.forEach(function (ab) {
        var row = table.querySelector('tr[data-ab="' + CSS.escape(ab.ab) + '"]');
        if (!row) { return; }
        var state = row.querySelector('[data-field="state"]');
        if (state.textContent !== ab.state) { state.textContent = ab.state; state.className = "st-" + ab.state; }
        state.title = ab.message || "";
        var why = row.querySelector('[data-field="why"]');
        if (why) { showReason(why, ab); }
        var cert = row.querySelector('[data-field="certification"]');
        if (cert) { cert.textContent = ab.certification || ""; cert.className = "cert-" + (ab.certification || "none"); }
        row.querySelector('[data-field="attempts"]').textContent = ab.attempts;
        row.querySelector('[data-field="started"]').textContent = ab.started;
        row.querySelector('[data-field="wall_s"]').textContent = ab.wall_s === null ? "" : ab.wall_s.toFixed(1) + " s";
        row.querySelector('[data-field="slot"]').textContent = ab.slot;
        var score = row.querySelector('[data-field="score"]');
        score.textContent = ab.score; score.className = "v-" + (ab.verdict || "none");
        showRejected(row, ab.rejected_inputs);
      });
      Object.keys(doc.counts).forEach(function (s) {
        var cell = document.querySelector('[data-count="' + s + '"]');
        if (cell) { cell.textContent = doc.counts[s]; }
      });
    }).catch(function () {});
}

function refreshJob(pre) {
  fetch(pre.dataset.live, {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
    .then(function (doc) {
      if (!doc) { return; }
      var atEnd = pre.scrollTop + pre.clientHeight >= pre.scrollHeight - 4;
      showLines(pre, doc.log);
      if (atEnd) { toEnd(pre); }  // following: the last line stays in view
      showProblems(doc.problems);
      var state = document.getElementById("job-state");
      state.textContent = doc.state; state.className = "job-" + doc.state;
      if (doc.state !== "running") { clearInterval(pre.timer); }
    }).catch(function () {});
}

var ERROR_LINE = /(^|\s)Error:|\[ ?ERROR ?\]/;

function showLines(pre, text) {
  // The log as lines, its first error line anchored as #first-error (as the server draws it: honest.py).
  var lines = text.split("\n"), marked = false;
  if (lines[lines.length - 1] === "") { lines.pop(); }
  pre.textContent = "";
  lines.forEach(function (line) {
    var span = document.createElement("span");
    span.textContent = line;
    if (!marked && line.indexOf("$ ") !== 0 && ERROR_LINE.test(line)) {
      span.id = "first-error"; span.className = "error-line"; marked = true;
    }
    pre.appendChild(span); pre.appendChild(document.createTextNode("\n"));
  });
}

function toEnd(pre) {
  pre.scrollTop = pre.scrollHeight;
  window.scrollTo(0, document.documentElement.scrollHeight);
}

function openLog(pre) {
  // A log opens at its last line; with #first-error in the address, at its first error line.
  var target = location.hash ? document.getElementById(location.hash.slice(1)) : null;
  if (target && pre.contains(target)) { target.scrollIntoView({block: "center"}); return; }
  toEnd(pre);
}

function showProblems(problems) {
  var list = document.getElementById("job-problems");
  if (!list) { return; }
  list.textContent = "";
  (problems || []).forEach(function (text) {
    var item = document.createElement("li");
    item.textContent = text; list.appendChild(item);
  });
}

function watchDates(table) {
  // The page carries the fingerprint of the table it was drawn with; reload as soon as the server's differs.
  setInterval(function () {
    fetch("/api/dates", {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
      .then(function (doc) {
        if (!doc || !doc.state || doc.state === table.dataset.state) { return; }
        if (!document.activeElement.matches("textarea")) { location.reload(); }
      }).catch(function () {});
  }, 3000);
}

document.addEventListener("DOMContentLoaded", function () {
  var abs = document.getElementById("abs");
  if (abs && abs.dataset.live) { setInterval(function () { refreshAbs(abs); }, 2000); }
  var log = document.getElementById("job-log");
  document.querySelectorAll("pre.log").forEach(function (pre) {  // the log views open at the end; a log's
    if (pre.id === "job-log" || pre.id === "file-log") { openLog(pre); } else { pre.scrollTop = pre.scrollHeight; }
  });  // tail on a page of other things (the AB page) only scrolls itself
  if (log && log.dataset.live && log.dataset.state === "running") { log.timer = setInterval(function () { refreshJob(log); }, 1000); }
  var dates = document.getElementById("dates");
  if (dates) { watchDates(dates); }
});
