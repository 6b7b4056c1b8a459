// dfos monitor: live updates by small fetches (no library). The AB monitor table and an action's
// log refresh every 2 s; the date table reloads the page when a date's state changes.
"use strict";

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
        row.querySelector('[data-field="attempts"]').textContent = ab.attempts;
        row.querySelector('[data-field="started"]').textContent = ab.started;
        row.querySelector('[data-field="wall_s"]').textContent = ab.wall_s === null ? "" : ab.wall_s.toFixed(1) + " s";
        row.querySelector('[data-field="slot"]').textContent = ab.slot;
        var score = row.querySelector('[data-field="score"]');
        score.textContent = ab.score; score.className = "v-" + (ab.verdict || "none");
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
      pre.textContent = doc.log;
      var state = document.getElementById("job-state");
      state.textContent = doc.state; state.className = "job-" + doc.state;
      if (doc.state !== "running") { clearInterval(pre.timer); }
    }).catch(function () {});
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
  if (log && log.dataset.live) { log.timer = setInterval(function () { refreshJob(log); }, 1000); }
  var dates = document.getElementById("dates");
  if (dates) { watchDates(dates); }
});
