// The dfoMonitor's live autoDaily panel (templates/panel_autodaily.html): state, step and log link from
// /api/auto-daily every 3 seconds.
(function () {
  function update(panel, doc) {
    panel.dataset.state = doc.state;
    var box = document.getElementById("auto-daily-state");
    box.className = doc.state === "running" ? "offer" : (doc.state === "failed" || doc.state === "stopped") ? "bad" : "wait";
    box.textContent = "autoDaily: " + doc.state + (doc.step ? ": " + doc.step : "");
    var link = panel.querySelector(".auto-log");
    if (link) {
      if (doc.log_href) { link.setAttribute("href", doc.log_href); link.textContent = "log"; link.hidden = false; }
      else { link.hidden = true; }
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    var panel = document.getElementById("auto-daily");
    if (!panel) { return; }
    setInterval(function () {
      fetch("/api/auto-daily", {credentials: "same-origin"}).then(function (r) { return r.ok ? r.json() : null; })
        .then(function (doc) { if (doc) { update(panel, doc); } }).catch(function () {});
    }, 3000);
  });
})();
