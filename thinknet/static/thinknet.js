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

  // The set-up's time zone: the device's own zone, when the list has it, said so to be confirmed.
  function guessZone() {
    var select = document.querySelector("select[data-guess-zone]");
    if (!select || !window.Intl) { return; }
    var zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    var option = Array.prototype.find.call(select.options, function (o) { return o.value === zone; });
    if (!option) { return; }
    select.value = zone;
    var note = document.getElementById("zone-guess");
    if (note) {
      note.textContent = "Guessed from this device: " + option.textContent + ". Change it if the group meets elsewhere.";
      note.hidden = false;
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstError(document);
    guessZone();
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copyFrom(button); });
    });
  });
  document.addEventListener("htmx:afterSwap", function (event) { focusFirstError(event.detail.target); });
})();
