// The patient chart: photo upload by drop zone or one chooser for several files,
// with a preview of each and the view it is for. Progressive enhancement: the
// form's one file field per view stays the way the photos are sent (and the only
// way without scripts); this fills those fields from the chosen files. The server
// checks every photo again with the same service as before.
(function () {
  "use strict";

  var TYPES = ["image/jpeg", "image/png"];

  function text(el, value) { el.textContent = value; return el; }
  function make(tag, cls) { var el = document.createElement(tag); if (cls) el.className = cls; return el; }
  function format(template, values) {
    return template.replace(/\{(\w+)\}/g, function (_m, key) { return values[key] !== undefined ? values[key] : ""; });
  }
  function size(bytes) {
    if (bytes < 1024 * 1024) return Math.max(1, Math.round(bytes / 1024)) + " KB";
    return (bytes / (1024 * 1024)).toFixed(1) + " MB";
  }

  function enhance(zone) {
    var form = zone.closest("form");
    var fieldsBox = form.querySelector("[data-photo-fields]");
    var list = form.querySelector("[data-previews]");
    var chooser = zone.querySelector("input[type=file]");
    var maxBytes = parseInt(zone.getAttribute("data-max-bytes"), 10);
    var msg = function (name) { return zone.getAttribute("data-msg-" + name) || ""; };
    var views = [];
    fieldsBox.querySelectorAll("input[type=file]").forEach(function (input) {
      var label = form.querySelector("label[for='" + input.id + "']");
      views.push({ value: input.name.replace(/^photo_/, ""), label: label ? label.textContent.trim() : input.name, input: input });
    });
    var items = []; // {file, url, view, error, node}
    var counter = 0;
    var touched = false;

    zone.hidden = false;
    list.hidden = false;
    // Errors from the server stay beside their view's field, so those fields stay shown.
    if (!fieldsBox.querySelector(".errorlist")) fieldsBox.classList.add("enhanced");

    function usedViews(except) {
      return items.filter(function (it) { return it !== except && !it.error && it.view; }).map(function (it) { return it.view; });
    }

    function check(file) {
      if (TYPES.indexOf(file.type) < 0) return format(msg("type"), { name: file.name });
      if (file.size > maxBytes) return format(msg("size"), { name: file.name });
      return "";
    }

    function render() {
      list.textContent = "";
      items.forEach(function (it) {
        var li = make("li", "upload-preview" + (it.error ? " rejected" : ""));
        li.setAttribute("data-file", it.file.name);
        if (it.url) {
          var img = make("img");
          img.src = it.url;
          img.alt = format(msg("preview"), { name: it.file.name });
          li.appendChild(img);
        }
        li.appendChild(text(make("p", "file-name"), it.file.name + " · " + size(it.file.size)));
        var problem = it.error || it.clash;
        if (!it.error) {
          var id = "upload-view-" + it.id;
          var label = text(make("label"), msg("view"));
          label.setAttribute("for", id);
          var select = make("select");
          select.id = id;
          var none = text(make("option"), msg("choose"));
          none.value = "";
          select.appendChild(none);
          views.forEach(function (v) {
            var option = text(make("option"), v.label);
            option.value = v.value;
            if (v.value === it.view) option.selected = true;
            select.appendChild(option);
          });
          select.addEventListener("change", function () { it.view = select.value; update(); focusSelect(it); });
          li.appendChild(label);
          li.appendChild(select);
          if (problem) select.setAttribute("aria-describedby", id + "-error");
        }
        if (problem) {
          var error = text(make("p", "error"), problem);
          error.id = "upload-view-" + it.id + "-error";
          li.appendChild(error);
        }
        var remove = text(make("button", "button"), msg("remove"));
        remove.type = "button";
        remove.setAttribute("aria-label", format(msg("remove-name"), { name: it.file.name }));
        remove.addEventListener("click", function () {
          if (it.url) URL.revokeObjectURL(it.url);
          items.splice(items.indexOf(it), 1);
          update();
          chooser.focus();
        });
        li.appendChild(remove);
        it.node = li;
        list.appendChild(li);
      });
    }

    function focusSelect(it) {
      var select = it.node && it.node.querySelector("select");
      if (select) select.focus();
    }

    // Each view's file field gets the file chosen for that view (or none). Untouched
    // while nothing was chosen here, so files picked in the fields themselves (shown
    // again after a server error) are kept.
    function sync() {
      if (!items.length && !touched) return 0;
      touched = true;
      var clashes = 0;
      items.forEach(function (it) { it.clash = ""; });
      var taken = {};
      items.forEach(function (it) {
        if (it.error) return;
        if (!it.view) { it.clash = msg("no-view"); clashes += 1; return; }
        if (taken[it.view]) { it.clash = msg("duplicate"); clashes += 1; return; }
        taken[it.view] = it;
      });
      views.forEach(function (v) {
        var transfer = new DataTransfer();
        if (taken[v.value]) transfer.items.add(taken[v.value].file);
        v.input.files = transfer.files;
      });
      return clashes;
    }

    function update() { sync(); render(); }

    function add(files) {
      Array.prototype.forEach.call(files, function (file) {
        counter += 1;
        var it = { id: counter, file: file, error: check(file), clash: "", view: "", url: "" };
        if (!it.error) {
          it.url = URL.createObjectURL(file);
          var used = usedViews(it);
          var free = views.filter(function (v) { return used.indexOf(v.value) < 0; })[0];
          it.view = free ? free.value : "";
        }
        items.push(it);
      });
      update();
    }

    chooser.addEventListener("change", function () {
      add(chooser.files);
      chooser.value = ""; // the same file can be chosen again after removing it
    });
    ["dragenter", "dragover"].forEach(function (name) {
      zone.addEventListener(name, function (event) { event.preventDefault(); zone.classList.add("over"); });
    });
    zone.addEventListener("dragleave", function () { zone.classList.remove("over"); });
    zone.addEventListener("drop", function (event) {
      event.preventDefault();
      zone.classList.remove("over");
      if (event.dataTransfer && event.dataTransfer.files) add(event.dataTransfer.files);
    });
    form.addEventListener("submit", function (event) {
      if (sync() > 0) {
        event.preventDefault();
        render();
        var first = list.querySelector(".error");
        var select = first && first.parentNode.querySelector("select");
        if (select) select.focus();
      }
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    // The photo comparison: a choice made with the pointer is shown at once. From the
    // keyboard, arrows change a closed select step by step, so the Compare button sends it.
    document.querySelectorAll("form[data-autosubmit]").forEach(function (form) {
      var pointer = false;
      form.addEventListener("pointerdown", function () { pointer = true; });
      form.addEventListener("keydown", function () { pointer = false; });
      form.addEventListener("change", function () { if (pointer) form.submit(); });
    });
    if (typeof DataTransfer === "undefined") return;
    document.querySelectorAll("[data-dropzone]").forEach(enhance);
  });
})();
