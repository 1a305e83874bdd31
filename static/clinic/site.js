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
})();
