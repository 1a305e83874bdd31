// Account pages: after a form comes back with errors, move focus to the summary so
// screen readers announce it and keyboard users start from there.
document.addEventListener("DOMContentLoaded", function () {
  var summary = document.getElementById("form-errors");
  if (summary) { summary.focus(); }
});
