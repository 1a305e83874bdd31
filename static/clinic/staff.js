// Staff workspace: let htmx swap 4xx answers (a message in place: a taken slot,
// a wrong state) instead of dropping them; 5xx still count as errors.
(function () {
  "use strict";
  function configure() {
    if (!window.htmx) return;
    // Settling copies style attributes with setAttribute, which the CSP (style-src 'self') refuses.
    window.htmx.config.attributesToSettle = ["class", "width", "height"];
    window.htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4..", swap: true, error: false },
      { code: "...", swap: false, error: true }
    ];
  }
  configure();
  document.documentElement.classList.add("js");
  // Today's schedule opens at the current time (the day is long; the morning is often past).
  document.addEventListener("DOMContentLoaded", function () {
    var line = document.querySelector(".day-grid .now-line");
    if (line && line.scrollIntoView && !window.location.hash) line.scrollIntoView({ block: "center" });
  });
  // Opening an appointment from the schedule: show the dialog while it loads.
  document.addEventListener("htmx:beforeRequest", function (event) {
    var target = event.detail.target;
    if (target && target.id === "appointment-panel") {
      var dialog = target.closest("dialog");
      if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
    }
  });
})();
