// Calendar feeds: the Copy link button copies the secret address into the
// clipboard ([data-copy] names the input). Without scripts the button stays
// hidden and the address can be selected and copied by hand.
(function () {
  "use strict";
  function copyBySelection(input) {
    input.focus();
    input.select();
    try {
      return document.execCommand("copy");
    } catch (error) {
      return false;
    }
  }
  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("[data-select-on-focus]").forEach(function (input) {
      input.addEventListener("focus", function () { input.select(); });
    });
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      var input = document.getElementById(button.getAttribute("data-copy"));
      var status = document.querySelector("[data-copy-status]");
      if (!input) return;
      button.hidden = false;
      button.addEventListener("click", function () {
        function say(copied) {
          if (status) status.textContent = button.getAttribute(copied ? "data-copied" : "data-copy-failed");
        }
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(input.value).then(
            function () { say(true); },
            function () { say(copyBySelection(input)); }
          );
        } else {
          say(copyBySelection(input));
        }
      });
    });
  });
})();
