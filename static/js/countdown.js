// Live SLA countdowns: every <time class="countdown" datetime="..."> keeps the due time it shows (in
// the zone the page names) and adds "in 1 h 20 min" or "overdue by 5 min", refreshed every 30 seconds.
// Without JavaScript the due time alone stays.
(function () {
  function words(ms) {
    var minutes = Math.round(Math.abs(ms) / 60000);
    var days = Math.floor(minutes / 1440), hours = Math.floor((minutes % 1440) / 60), mins = minutes % 60;
    var parts = [];
    if (days) parts.push(days + " d");
    if (hours) parts.push(hours + " h");
    if (!days) parts.push(mins + " min");
    return parts.join(" ");
  }
  function tick() {
    var now = Date.now();
    document.querySelectorAll("time.countdown[datetime]").forEach(function (el) {
      if (!el.dataset.absolute) el.dataset.absolute = el.textContent;
      var due = Date.parse(el.getAttribute("datetime"));
      if (isNaN(due)) return;
      var left = due - now;
      var countdown = left >= 0 ? "in " + words(left) : "overdue by " + words(left);
      el.textContent = el.dataset.absolute + " (" + countdown + ")";
      el.classList.toggle("overdue", left < 0);
    });
  }
  // Pages listing many partners' tickets (the queue) mark their times data-local: shown in the
  // reader's own zone, which the page then names, instead of UTC.
  var local = new Intl.DateTimeFormat(undefined, { day: "numeric", month: "short", hour: "2-digit", minute: "2-digit", hourCycle: "h23" });
  document.querySelectorAll("time[data-local][datetime]").forEach(function (el) {
    var at = Date.parse(el.getAttribute("datetime"));
    if (!isNaN(at)) el.textContent = local.format(at);
  });
  document.querySelectorAll("[data-local-zone]").forEach(function (el) {
    el.textContent = Intl.DateTimeFormat().resolvedOptions().timeZone || el.textContent;
  });
  tick();
  setInterval(tick, 30000);
})();
