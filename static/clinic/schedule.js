// The day schedule: move an appointment by dragging its block to another time or
// column, or with its Move button (a dialog of columns and times: the keyboard's
// way). Both post to the same endpoint, which asks the reschedule service; a
// refused move snaps back and the service's reason appears in #schedule-status
// (aria-live="polite"); an accepted one redraws the grid (HX-Trigger: schedule-changed).
(function () {
  "use strict";
  var THRESHOLD = 6; // pixels of travel before a press becomes a drag (less is a click)

  function grid() { return document.querySelector("#schedule-body .day-grid[data-day]"); }
  function statusRegion() { return document.getElementById("schedule-status"); }
  function token() {
    try { return JSON.parse(document.body.getAttribute("hx-headers") || "{}")["X-CSRFToken"] || ""; }
    catch (error) { return ""; }
  }
  function columnsMove() { var g = grid(); return Boolean(g && g.hasAttribute("data-columns-move")); }
  function heads() { var g = grid(); return g ? Array.prototype.slice.call(g.querySelectorAll(".col-head[data-key]")) : []; }
  function times() { var g = grid(); return g ? Array.prototype.slice.call(g.querySelectorAll(".time-label[data-time]")) : []; }

  function startValue(hhmm) {
    var g = grid();
    return g.getAttribute("data-day") + "T" + hhmm + ":00" + g.getAttribute("data-offset");
  }

  function snapBack(block) {
    block.style.transform = "";
    block.classList.remove("is-dragging", "is-moving");
    var hint = block.querySelector(".drop-hint");
    if (hint) hint.remove();
  }

  function clearTargets() {
    var g = grid();
    if (!g) return;
    g.querySelectorAll(".is-drop-target").forEach(function (el) { el.classList.remove("is-drop-target"); });
  }

  // Posts the move; resolves true when the service accepted it.
  function move(block, hhmm, column) {
    var values = { start: startValue(hhmm) };
    if (column && columnsMove() && column !== block.getAttribute("data-column")) values.practitioner = column;
    block.classList.add("is-moving");
    var region = statusRegion();
    if (region) region.textContent = "";
    return new Promise(function (resolve) {
      function done(event) {
        if (event.detail.elt !== block) return;
        document.removeEventListener("htmx:afterRequest", done);
        var ok = Boolean(event.detail.xhr && event.detail.xhr.status >= 200 && event.detail.xhr.status < 300);
        if (!ok) {
          snapBack(block);
          if (region && !region.textContent.trim()) region.textContent = document.body.getAttribute("data-error-message") || "";
        }
        resolve(ok);
      }
      document.addEventListener("htmx:afterRequest", done);
      window.htmx.ajax("POST", block.getAttribute("data-move"), {
        source: block, target: "#schedule-status", swap: "innerHTML", values: values,
        headers: { "X-CSRFToken": token() }
      });
    });
  }

  // --- drag and drop (mouse and pen; on touch the block's Move button does the same) ---
  var drag = null;

  function target(state, event) {
    var dy = event.clientY - state.y;
    var dx = event.clientX - state.x;
    var top = state.rect.top + dy;
    var centre = state.rect.left + dx + state.rect.width / 2;
    var labels = times();
    var time = null;
    for (var i = 0; i < labels.length; i += 1) {
      var box = labels[i].getBoundingClientRect();
      if (top + box.height / 2 >= box.top && top + box.height / 2 < box.bottom) { time = labels[i]; break; }
    }
    var column = null;
    heads().forEach(function (head) {
      var box = head.getBoundingClientRect();
      if (centre >= box.left && centre < box.right) column = head;
    });
    if (!columnsMove()) column = heads().filter(function (h) { return h.getAttribute("data-key") === state.block.getAttribute("data-column"); })[0] || column;
    return time && column ? { time: time, column: column } : null;
  }

  document.addEventListener("pointerdown", function (event) {
    if (event.button !== 0 || event.pointerType === "touch" || !window.htmx) return;
    var block = event.target.closest && event.target.closest(".day-grid .appt[data-move]");
    if (!block || event.target.closest("button, form")) return;
    drag = { block: block, x: event.clientX, y: event.clientY, rect: block.getBoundingClientRect(), moved: false, id: event.pointerId };
  });

  document.addEventListener("pointermove", function (event) {
    if (!drag || event.pointerId !== drag.id) return;
    var dx = event.clientX - drag.x;
    var dy = event.clientY - drag.y;
    if (!drag.moved && Math.abs(dx) + Math.abs(dy) < THRESHOLD) return;
    event.preventDefault();
    if (!drag.moved) {
      drag.moved = true;
      drag.block.classList.add("is-dragging");
      var hint = document.createElement("span");
      hint.className = "drop-hint";
      hint.setAttribute("aria-hidden", "true");
      drag.block.appendChild(hint);
    }
    // CSSOM, not a style attribute: the CSP (style-src 'self') allows it.
    drag.block.style.transform = "translate(" + dx + "px, " + dy + "px)";
    clearTargets();
    var found = target(drag, event);
    var hintEl = drag.block.querySelector(".drop-hint");
    if (found) {
      found.time.classList.add("is-drop-target");
      found.column.classList.add("is-drop-target");
      if (hintEl) hintEl.textContent = found.time.getAttribute("data-label");
    } else if (hintEl) {
      hintEl.textContent = "";
    }
  });

  function swallowClick(event) {
    event.preventDefault();
    event.stopPropagation();
  }

  document.addEventListener("pointerup", function (event) {
    if (!drag || event.pointerId !== drag.id) return;
    var state = drag;
    drag = null;
    if (!state.moved) return;
    // The release would also click the link (opening the dialog): not after a drag.
    document.addEventListener("click", swallowClick, true);
    window.setTimeout(function () { document.removeEventListener("click", swallowClick, true); }, 0);
    var found = target(state, event);
    clearTargets();
    if (!found) { snapBack(state.block); return; }
    var hhmm = found.time.getAttribute("data-time");
    var column = found.column.getAttribute("data-key");
    if (hhmm === state.block.getAttribute("data-start") && column === state.block.getAttribute("data-column")) {
      snapBack(state.block);
      return;
    }
    move(state.block, hhmm, column);
  });

  document.addEventListener("pointercancel", function () {
    if (drag) snapBack(drag.block);
    clearTargets();
    drag = null;
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && drag) {
      snapBack(drag.block);
      clearTargets();
      drag = null;
    }
  });

  // --- the Move dialog ---
  var moving = null; // the block being moved from the dialog

  function option(value, text, selected) {
    var el = document.createElement("option");
    el.value = value;
    el.textContent = text;
    el.selected = selected;
    return el;
  }

  document.addEventListener("click", function (event) {
    var opener = event.target.closest && event.target.closest("[data-move-open]");
    if (!opener) return;
    var block = opener.closest(".appt[data-move]");
    var dialog = document.getElementById("move-dialog");
    if (!block || !dialog || !dialog.showModal) return;
    moving = block;
    var columnSelect = dialog.querySelector("#move-column");
    var timeSelect = dialog.querySelector("#move-time");
    columnSelect.replaceChildren();
    heads().forEach(function (head) {
      var title = head.querySelector("strong");
      columnSelect.appendChild(option(head.getAttribute("data-key"), title ? title.textContent : "", head.getAttribute("data-key") === block.getAttribute("data-column")));
    });
    dialog.querySelector("[data-move-column-field]").hidden = !columnsMove();
    timeSelect.replaceChildren();
    times().forEach(function (label) {
      timeSelect.appendChild(option(label.getAttribute("data-time"), label.getAttribute("data-label"), label.getAttribute("data-time") === block.getAttribute("data-start")));
    });
    dialog.querySelector("[data-move-name]").textContent = block.getAttribute("data-name") || "";
    dialog.showModal();
    timeSelect.focus();
  });

  document.addEventListener("click", function (event) {
    if (event.target.closest && event.target.closest("[data-move-cancel]")) {
      var dialog = document.getElementById("move-dialog");
      if (dialog) dialog.close();
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (!form.hasAttribute || !form.hasAttribute("data-move-form")) return;
    event.preventDefault();
    var dialog = document.getElementById("move-dialog");
    var block = moving;
    moving = null;
    dialog.close(); // focus returns to the block's Move button
    if (!block || !window.htmx) return;
    move(block, form.querySelector("#move-time").value, columnsMove() ? form.querySelector("#move-column").value : null);
  });
})();
