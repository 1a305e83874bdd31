// Small behaviours shared by every page. Served from 'self' (no inline scripts: the CSP forbids them).
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  // The header's menu button (staff pages below desktop width): opens and closes the menu;
  // Esc or a click elsewhere closes it and gives focus back to the button.
  function menu() {
    var toggle = document.querySelector("[data-menu-toggle]");
    var nav = toggle && document.getElementById(toggle.getAttribute("aria-controls"));
    return toggle && nav ? { toggle: toggle, nav: nav } : null;
  }
  function setMenu(open, refocus) {
    var m = menu();
    if (!m) return;
    m.toggle.setAttribute("aria-expanded", open ? "true" : "false");
    m.nav.classList.toggle("open", open);
    if (!open && refocus) m.toggle.focus();
  }
  document.addEventListener("click", function (event) {
    var m = menu();
    if (!m) return;
    if (m.toggle.contains(event.target)) {
      setMenu(m.toggle.getAttribute("aria-expanded") !== "true", false);
    } else if (m.nav.classList.contains("open") && !m.nav.contains(event.target)) {
      setMenu(false, false);
    }
  });
  document.addEventListener("keydown", function (event) {
    var m = menu();
    if (event.key === "Escape" && m && m.nav.classList.contains("open")) setMenu(false, true);
  });

  // Disclosure menus in the header ("Manage"): Esc or a click outside closes an open one,
  // and Esc gives focus back to its summary.
  document.addEventListener("click", function (event) {
    document.querySelectorAll("[data-nav-menu][open]").forEach(function (menu) {
      if (!menu.contains(event.target)) menu.removeAttribute("open");
    });
  });
  document.addEventListener("keydown", function (event) {
    if (event.key !== "Escape") return;
    document.querySelectorAll("[data-nav-menu][open]").forEach(function (menu) {
      menu.removeAttribute("open");
      var summary = menu.querySelector("summary");
      if (summary && menu.contains(document.activeElement)) summary.focus();
    });
  });

  // Toasts: the page's messages and those an htmx answer sends (HX-Trigger "clinic:messages",
  // clinic/toasts.py) appear in the polite live region. They are put in after the page has
  // loaded, so screen readers announce them; they leave after a while unless they are errors,
  // and never while the pointer or focus is on them.
  var TOAST_MS = 8000;
  function toastRegion() {
    var region = document.getElementById("toasts");
    if (!region) {
      region = document.createElement("div");
      region.id = "toasts";
      region.className = "toasts";
      region.setAttribute("role", "status");
      region.setAttribute("aria-live", "polite");
      document.body.appendChild(region);
    }
    return region;
  }
  function dismiss(toast) {
    if (!toast.parentNode) return;
    toast.classList.add("leaving");
    window.setTimeout(function () { if (toast.parentNode) toast.parentNode.removeChild(toast); }, 220);
  }
  function schedule(toast) {
    if (/\b(error|warning)\b/.test(toast.className)) return; // these wait for the reader
    var timer = null;
    function start() { timer = window.setTimeout(function () { dismiss(toast); }, TOAST_MS); }
    function stop() { if (timer) window.clearTimeout(timer); timer = null; }
    toast.addEventListener("mouseenter", stop);
    toast.addEventListener("mouseleave", start);
    toast.addEventListener("focusin", stop);
    toast.addEventListener("focusout", function (event) { if (!toast.contains(event.relatedTarget)) start(); });
    start();
  }
  function showToast(text, tags) {
    var toast = document.createElement("div");
    toast.className = "toast " + (tags || "info");
    toast.setAttribute("data-toast", "");
    var p = document.createElement("p");
    p.textContent = text;
    var close = document.createElement("button");
    close.type = "button";
    close.className = "toast-close";
    close.setAttribute("data-toast-close", "");
    close.setAttribute("aria-label", document.body.getAttribute("data-dismiss-label") || "Dismiss");
    close.textContent = "\u00d7";
    toast.appendChild(p);
    toast.appendChild(close);
    toastRegion().appendChild(toast);
    schedule(toast);
  }
  window.clinicToast = showToast;
  document.addEventListener("click", function (event) {
    var close = event.target.closest && event.target.closest("[data-toast-close]");
    if (close) dismiss(close.closest("[data-toast]"));
  });
  document.addEventListener("clinic:messages", function (event) {
    var list = (event.detail && event.detail.messages) || [];
    list.forEach(function (m) { showToast(m.message, m.tags); });
  });
  document.addEventListener("DOMContentLoaded", function () {
    var region = document.getElementById("toasts");
    if (!region) return;
    var rendered = Array.prototype.slice.call(region.querySelectorAll("[data-toast]"));
    rendered.forEach(function (toast) { region.removeChild(toast); });
    // Put back a moment later: a live region announces what changes in it, not what it held at load.
    window.setTimeout(function () {
      rendered.forEach(function (toast) { region.appendChild(toast); schedule(toast); });
    }, 150);
  });

  // A table wider than its box scrolls sideways: a keyboard must reach it too (WCAG 2.1.1),
  // so a scrolling .table-wrap takes focus, named after its caption or the nearest heading.
  function scrollRegions(root) {
    var wraps = (root || document).querySelectorAll ? (root || document).querySelectorAll(".table-wrap") : [];
    Array.prototype.forEach.call(wraps, function (wrap) {
      if (wrap.scrollWidth > wrap.clientWidth + 1) {
        if (wrap.hasAttribute("tabindex")) return;
        var caption = wrap.querySelector("caption");
        var section = wrap.closest("section, main");
        var heading = caption || (section && section.querySelector("h1, h2, h3"));
        wrap.setAttribute("tabindex", "0");
        wrap.setAttribute("role", "region");
        if (heading) wrap.setAttribute("aria-label", heading.textContent.trim());
      } else if (wrap.getAttribute("tabindex") === "0") {
        wrap.removeAttribute("tabindex");
        wrap.removeAttribute("role");
        wrap.removeAttribute("aria-label");
      }
    });
  }
  document.addEventListener("DOMContentLoaded", function () { scrollRegions(document); });
  document.addEventListener("htmx:afterSettle", function () { scrollRegions(document); });
  var resizing = null;
  window.addEventListener("resize", function () {
    window.clearTimeout(resizing);
    resizing = window.setTimeout(function () { scrollRegions(document); }, 150);
  });

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
