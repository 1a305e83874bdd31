// Patient pages. The booking steps swap in place (htmx) and push their URL;
// the language switch then has to come back to the new URL, not the first one.
(function () {
  "use strict";
  function keepLanguageSwitchHere() {
    var here = window.location.pathname + window.location.search;
    document.querySelectorAll("form.lang-switch input[name=next]").forEach(function (input) { input.value = here; });
  }
  document.addEventListener("htmx:pushedIntoHistory", keepLanguageSwitchHere);
  document.addEventListener("htmx:replacedInHistory", keepLanguageSwitchHere);
  window.addEventListener("popstate", keepLanguageSwitchHere);

  // Registration (form[data-check-url]): a field is checked by the server as it is left,
  // with the same form and password rules as the submit, and its error shown under it
  // at once (and cleared as soon as it is put right).
  function fieldErrors(input) {
    var id = input.id + "_error";
    return { id: id, list: document.getElementById(id) };
  }
  function showErrors(input, errors) {
    var found = fieldErrors(input);
    var described = (input.getAttribute("aria-describedby") || "").split(/\s+/).filter(function (token) {
      return token && token !== found.id;
    });
    if (!errors.length) {
      if (found.list) found.list.parentNode.removeChild(found.list);
      input.removeAttribute("aria-invalid");
    } else {
      var list = found.list;
      if (!list) {
        list = document.createElement("ul");
        list.className = "errorlist";
        list.id = found.id;
        input.parentNode.insertBefore(list, input);
      }
      list.textContent = "";
      errors.forEach(function (text) {
        var item = document.createElement("li");
        item.textContent = text;
        list.appendChild(item);
      });
      input.setAttribute("aria-invalid", "true");
      described.push(found.id);
    }
    if (described.length) input.setAttribute("aria-describedby", described.join(" "));
    else input.removeAttribute("aria-describedby");
    var field = input.closest(".field");
    if (field) field.classList.toggle("field-invalid", errors.length > 0);
  }
  var pending = {};
  function check(form, input) {
    if (!input.name || !input.id) return;
    if (!input.value.trim()) { showErrors(input, []); return; }
    var data = new FormData(form);
    data.set("field", input.name);
    var asked = (pending[input.name] || 0) + 1;
    pending[input.name] = asked;
    window.fetch(form.getAttribute("data-check-url"), {
      method: "POST", body: data, credentials: "same-origin", headers: { "X-Requested-With": "fetch" }
    }).then(function (response) {
      return response.ok ? response.json() : null;
    }).then(function (answer) {
      if (answer && pending[input.name] === asked) showErrors(input, answer.errors || []);
    }).catch(function () { /* offline: the submit still checks everything */ });
  }
  var timers = {};
  document.addEventListener("focusout", function (event) {
    var input = event.target;
    var form = input.form;
    if (form && form.hasAttribute("data-check-url") && input.matches("input")) check(form, input);
  });
  document.addEventListener("input", function (event) {
    var input = event.target;
    var form = input.form;
    // A field already marked wrong is checked again as it is typed, so the error leaves when put right.
    if (!form || !form.hasAttribute("data-check-url") || input.getAttribute("aria-invalid") !== "true") return;
    window.clearTimeout(timers[input.name]);
    timers[input.name] = window.setTimeout(function () { check(form, input); }, 400);
  });
})();
