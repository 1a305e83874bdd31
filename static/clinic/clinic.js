// Small behaviours shared by every page. Served from 'self' (no inline scripts: the CSP forbids them).
(function () {
  "use strict";

  // Esc closes an open <dialog>; a [data-close-dialog] button closes its dialog.
  document.addEventListener("click", function (event) {
    var closer = event.target.closest("[data-close-dialog]");
    if (closer) {
      var dialog = closer.closest("dialog");
      if (dialog) dialog.close();
    }
    var opener = event.target.closest("[data-open-dialog]");
    if (opener) {
      var target = document.getElementById(opener.getAttribute("data-open-dialog"));
      if (target && target.showModal) { event.preventDefault(); target.showModal(); }
    }
  });

  // A dialog whose content htmx swapped in opens itself.
  document.addEventListener("htmx:afterSwap", function (event) {
    var dialog = event.target.closest && event.target.closest("dialog[data-auto-open]");
    if (dialog && !dialog.open && dialog.showModal) dialog.showModal();
    // Move focus to the first thing that asks for it in the new content (errors, step headings).
    var focus = event.target.querySelector && event.target.querySelector("[data-autofocus]");
    if (focus) { focus.setAttribute("tabindex", "-1"); focus.focus(); }
  });

  // A failed htmx request (network down, server error) says so instead of doing nothing.
  function announce(message) {
    var region = document.getElementById("live-region");
    if (region) { region.textContent = ""; region.textContent = message; region.hidden = false; }
  }
  document.addEventListener("htmx:sendError", function () {
    announce(document.body.getAttribute("data-offline-message") || "Network error");
  });
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr ? event.detail.xhr.status : 0;
    if (status >= 500) announce(document.body.getAttribute("data-error-message") || "Error");
  });

  // <form data-autosubmit>: a change of any field submits (e.g. filters, the day picker).
  document.addEventListener("change", function (event) {
    var form = event.target.closest && event.target.closest("form[data-autosubmit]");
    if (form && !form.hasAttribute("hx-get") && !form.hasAttribute("hx-post")) form.requestSubmit();
  });
})();
