// Small enhancements; every page works without them.
(function () {
  "use strict";

  // After a refused submit (a page load or an htmx swap), focus the first field with an error, so a screen
  // reader announces the field and its message, and sighted people see where to look.
  function focusFirstError(root) {
    var field = (root || document).querySelector('[aria-invalid="true"]');
    if (field) { field.focus(); }
  }

  // "Copy" buttons: data-copy names the id of the field whose value they copy.
  function copyFrom(button) {
    var field = document.getElementById(button.getAttribute("data-copy"));
    if (!field) { return; }
    var done = function () { button.textContent = "Copied"; };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(field.value).then(done);
    } else {
      field.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstError(document);
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copyFrom(button); });
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) { focusFirstError(event.detail.target); });
})();
