// The consent signing pad (templates/consent/_sheets.html): draw with a finger, pen or mouse
// (pointer events), "Clear" starts again, and every finished stroke is written into the hidden
// field as the stroke-only SVG that treatments.consents.parse_signature reads:
//   <svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 600 240"><path d="M x y L x y ..."/>...</svg>
// The drawing's coordinates are the pad's own 600 x 240 box whatever its size on screen, so a
// phone and a desk write the same shape. "Type my name instead" hides the pad: the typed name
// is then the signature and nothing has to be drawn (the keyboard way to sign).
(function () {
  "use strict";
  var WIDTH = 600;
  var HEIGHT = 240;
  var MAX_STROKES = 400;

  function round(value, limit) {
    return Math.round(Math.min(Math.max(value, 0), limit) * 10) / 10;
  }

  function toSvg(strokes) {
    var paths = strokes
      .filter(function (stroke) { return stroke.length > 0; })
      .map(function (stroke) {
        var points = stroke.length === 1 ? [stroke[0], stroke[0]] : stroke;
        return '<path d="' + points.map(function (p, i) { return (i ? "L" : "M") + p[0] + " " + p[1]; }).join(" ") + '"/>';
      });
    if (!paths.length) return "";
    return '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ' + WIDTH + " " + HEIGHT + '">' + paths.join("") + "</svg>";
  }

  // A drawing posted before (a refused form comes back filled): read its paths again.
  function fromSvg(text) {
    var strokes = [];
    var box = /viewBox="0 0 ([\d.]+) ([\d.]+)"/.exec(text || "");
    if (!box) return strokes;
    var sx = WIDTH / parseFloat(box[1]);
    var sy = HEIGHT / parseFloat(box[2]);
    var path = /<path\b[^>]*\bd="([^"]*)"/g;
    var match;
    while ((match = path.exec(text)) !== null) {
      var numbers = match[1].match(/-?\d+(?:\.\d+)?/g) || [];
      var stroke = [];
      for (var i = 0; i + 1 < numbers.length; i += 2) {
        stroke.push([round(parseFloat(numbers[i]) * sx, WIDTH), round(parseFloat(numbers[i + 1]) * sy, HEIGHT)]);
      }
      if (stroke.length) strokes.push(stroke);
    }
    return strokes;
  }

  function setUp(form) {
    var pad = form.querySelector("[data-signature-pad]");
    var canvas = pad && pad.querySelector("canvas");
    var field = form.querySelector("[data-pad-value]");
    var typed = form.querySelector("[data-consent-typed]");
    var name = form.querySelector("[data-consent-name]");
    var preview = form.querySelector("[data-typed-preview]");
    var state = form.querySelector("[data-pad-state]");
    if (!canvas || !field || !canvas.getContext) return;
    var context = canvas.getContext("2d");
    var strokes = fromSvg(field.value);
    var current = null;

    function size() {
      var ratio = window.devicePixelRatio || 1;
      var shown = canvas.getBoundingClientRect();
      var width = Math.max(Math.round(shown.width * ratio), 1);
      var height = Math.max(Math.round(shown.height * ratio), 1);
      if (canvas.width !== width || canvas.height !== height) {
        canvas.width = width;
        canvas.height = height;
      }
      draw();
    }

    function draw() {
      context.setTransform(1, 0, 0, 1, 0, 0);
      context.clearRect(0, 0, canvas.width, canvas.height);
      context.setTransform(canvas.width / WIDTH, 0, 0, canvas.height / HEIGHT, 0, 0);
      context.lineWidth = 2.5;
      context.lineCap = "round";
      context.lineJoin = "round";
      context.strokeStyle = "#111";
      strokes.forEach(function (stroke) {
        context.beginPath();
        context.moveTo(stroke[0][0], stroke[0][1]);
        if (stroke.length === 1) context.lineTo(stroke[0][0] + 0.1, stroke[0][1]);
        for (var i = 1; i < stroke.length; i++) context.lineTo(stroke[i][0], stroke[i][1]);
        context.stroke();
      });
    }

    function point(event) {
      var shown = canvas.getBoundingClientRect();
      return [
        round(((event.clientX - shown.left) / shown.width) * WIDTH, WIDTH),
        round(((event.clientY - shown.top) / shown.height) * HEIGHT, HEIGHT),
      ];
    }

    function save() {
      field.value = toSvg(strokes);
      if (state) state.textContent = strokes.length ? pad.getAttribute("data-drawn") || "" : "";
    }

    canvas.addEventListener("pointerdown", function (event) {
      if (event.button !== undefined && event.button > 0) return;
      if (strokes.length >= MAX_STROKES) return;
      event.preventDefault();
      if (canvas.setPointerCapture) canvas.setPointerCapture(event.pointerId);
      current = [point(event)];
      strokes.push(current);
      draw();
    });
    canvas.addEventListener("pointermove", function (event) {
      if (!current) return;
      event.preventDefault();
      var next = point(event);
      var last = current[current.length - 1];
      if (Math.abs(next[0] - last[0]) + Math.abs(next[1] - last[1]) < 1) return; // fewer, larger steps
      current.push(next);
      draw();
    });
    function end() {
      if (!current) return;
      current = null;
      save();
    }
    canvas.addEventListener("pointerup", end);
    canvas.addEventListener("pointercancel", end);
    canvas.addEventListener("lostpointercapture", end);

    var clear = form.querySelector("[data-pad-clear]");
    if (clear) {
      clear.addEventListener("click", function () {
        strokes = [];
        current = null;
        save();
        if (state) state.textContent = pad.getAttribute("data-cleared") || "";
        draw();
      });
    }

    function typedChanged() {
      var on = typed && typed.checked;
      pad.hidden = !!on;
      if (preview) {
        preview.hidden = !on;
        preview.textContent = on && name ? name.value : "";
      }
      if (!on) size();
    }
    if (typed) typed.addEventListener("change", typedChanged);
    if (name) name.addEventListener("input", function () { if (typed && typed.checked && preview) preview.textContent = name.value; });
    form.addEventListener("submit", function () {
      if (typed && typed.checked) field.value = ""; // the typed name is the signature
    });
    window.addEventListener("resize", size);
    typedChanged();
    size();
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("[data-consent-form]"), setUp);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
