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

  // Keyboard or pointer: a keyboard user keeps their place in the grid.
  var keyboard = false;
  document.addEventListener("keydown", function (event) {
    var key = event.key || "";
    if (key === "Tab" || key.indexOf("Arrow") === 0) keyboard = true;
  }, true);
  document.addEventListener("pointerdown", function () { keyboard = false; }, true);

  function grid() { return document.getElementById("schedule-body"); }
  function focusKey() {
    var active = document.activeElement;
    var body = grid();
    if (!active || !body || !body.contains(active)) return null;
    var keyed = active.closest("[data-focus-key]");
    return keyed ? keyed.getAttribute("data-focus-key") : null;
  }
  function focusByKey(key) {
    var body = grid();
    if (!key || !body) return false;
    var found = body.querySelector('[data-focus-key="' + key.replace(/["\\]/g, "") + '"]');
    if (found) found.focus({ preventScroll: true });
    return Boolean(found);
  }

  // The appointment that opened the dialog, to go back to after the grid behind was replaced.
  var opener = null;
  var kept = null; // the focused element's key while the grid is swapped

  document.addEventListener("htmx:beforeRequest", function (event) {
    var elt = event.detail.elt;
    var target = event.detail.target;
    // The periodic refresh waits while someone works in the grid by keyboard or in a dialog:
    // replacing the grid would throw their focus back to the top of the page.
    if (elt && elt.hasAttribute && elt.hasAttribute("data-schedule-poll")) {
      var body = grid();
      var inGrid = body && body.contains(document.activeElement);
      if (document.querySelector("dialog[open]") || (inGrid && keyboard)) {
        event.preventDefault();
        elt.setAttribute("data-skipped", String(Number(elt.getAttribute("data-skipped") || 0) + 1));
        elt.setAttribute("data-stale", "");
        return;
      }
      elt.removeAttribute("data-stale");
    }
    if (target && target.id === "appointment-panel") {
      var dialog = target.closest("dialog");
      if (!dialog || !dialog.contains(elt)) { // opened from the page, not an action inside the dialog
        var keyed = elt && elt.closest && elt.closest("[data-focus-key]");
        opener = keyed ? keyed.getAttribute("data-focus-key") : null;
      }
      if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
    }
  });
  // Any refresh of the grid (after an action, or by the timer) puts focus back where it was.
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target && event.detail.target.id === "schedule-body") kept = focusKey();
  });
  document.addEventListener("htmx:afterSettle", function () {
    var body = grid();
    if (kept && body && !body.contains(document.activeElement)) focusByKey(kept);
    kept = null;
  });
  // A refresh that waited happens as soon as focus leaves the grid (not at the next tick).
  document.addEventListener("focusout", function (event) {
    var body = grid();
    var poll = document.querySelector("[data-schedule-poll][data-stale]");
    if (!body || !poll || !body.contains(event.target) || body.contains(event.relatedTarget)) return;
    window.setTimeout(function () {
      if (!document.querySelector("dialog[open]") && !grid().contains(document.activeElement) && window.htmx) {
        window.htmx.trigger(poll, "schedule-stale");
      }
    }, 0);
  });
  // Closing the dialog returns focus to the appointment it came from, even if the grid was redrawn meanwhile.
  document.addEventListener("close", function (event) {
    var dialog = event.target;
    if (!dialog || dialog.id !== "appointment-dialog") return;
    var key = opener;
    opener = null;
    var active = document.activeElement;
    if (key && (!active || active === document.body || !grid() || !grid().contains(active))) focusByKey(key);
  }, true);
})();
