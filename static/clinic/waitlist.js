// Waitlist offers: a live countdown of how long a time stays held
// ([data-countdown] carries the seconds left when the server rendered the
// page; the server's clock decides, this only keeps the words current).
(function () {
  "use strict";
  var loaded = Date.now();
  function pad(n) { return n < 10 ? "0" + n : String(n); }
  function tick() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var left = parseInt(el.getAttribute("data-countdown"), 10) - Math.floor((Date.now() - loaded) / 1000);
      if (isNaN(left)) return;
      if (left <= 0) {
        el.textContent = el.getAttribute("data-expired-text");
        return;
      }
      var h = Math.floor(left / 3600), m = Math.floor((left % 3600) / 60), s = left % 60;
      var clock = (h ? h + ":" + pad(m) : m) + ":" + pad(s);
      el.textContent = el.getAttribute("data-label") + " " + clock;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    if (!document.querySelector("[data-countdown]")) return;
    tick();
    window.setInterval(tick, 1000);
  });
})();
