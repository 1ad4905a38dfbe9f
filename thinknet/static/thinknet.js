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

  // A member shown in the tree: every branch above them opened, scrolled to, their name focused.
  function showMember(item) {
    for (var node = item.parentElement; node; node = node.parentElement) {
      if (node.tagName === "DETAILS") { node.open = true; }
    }
    document.querySelectorAll(".found").forEach(function (el) { el.classList.remove("found"); });
    item.classList.add("found");
    var link = item.querySelector("a");
    item.scrollIntoView({ block: "center" });
    if (link) { link.focus({ preventScroll: true }); }
  }

  function showTarget() {
    var id = decodeURIComponent(location.hash.slice(1));
    var item = id && document.getElementById(id);
    if (item && item.matches("li[data-name]")) { showMember(item); }
  }

  // "Find a member": the directory keeps the names that match what is typed; the tree opens at the one picked.
  function findMember(box) {
    var list = document.getElementById(box.getAttribute("data-finds"));
    if (!list) { return; }
    var input = box.querySelector("input"), status = box.querySelector("[role=status]");
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-name]"));
    var inTree = list.classList.contains("tree");
    box.hidden = false;
    function matches(query) {
      return items.filter(function (li) { return li.getAttribute("data-name").toLowerCase().indexOf(query) !== -1; });
    }
    function jump(exactOnly) {
      var query = input.value.trim().toLowerCase();
      if (!query) { status.textContent = ""; return; }
      var found = matches(query);
      var exact = found.filter(function (li) { return li.getAttribute("data-name").toLowerCase() === query; });
      var item = exact[0] || (exactOnly ? null : found[0]);
      if (item) { showMember(item); status.textContent = ""; }
      else if (!found.length) { status.textContent = "No member's name contains “" + input.value.trim() + "”."; }
    }
    input.addEventListener("input", function (event) {
      // In the tree, a name picked from the offered list is shown; typed letters are not (Ann is not Anna).
      if (inTree) { if (event.inputType === "insertReplacementText" || !event.inputType) { jump(true); } return; }
      var query = input.value.trim().toLowerCase(), shown = 0;
      items.forEach(function (li) {
        var match = !query || li.getAttribute("data-name").toLowerCase().indexOf(query) !== -1;
        li.hidden = !match;
        if (match) { shown += 1; }
      });
      status.textContent = query ? (shown === 1 ? "1 member" : shown + " members") + " of " + items.length : "";
    });
    input.addEventListener("keydown", function (event) {
      if (event.key === "Enter") { event.preventDefault(); if (inTree) { jump(false); } }
    });
    var show = box.querySelector("button[data-show]");
    if (show) { show.addEventListener("click", function () { jump(false); }); }
  }

  document.addEventListener("DOMContentLoaded", function () {
    focusFirstError(document);
    guessZone();
    document.querySelectorAll("[data-finds]").forEach(findMember);
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.hidden = false;
      button.addEventListener("click", function () { copyFrom(button); });
    });
  });
  var tappedControl = null;

  // The button tapped in an htmx form is marked, so its own spinner shows while the answer is on its way.
  document.addEventListener("click", function (event) {
    var button = event.target.closest && event.target.closest("form[hx-post] button[type=submit]");
    if (!button || !button.form) { return; }
    button.form.querySelectorAll("[data-tapped]").forEach(function (b) { b.removeAttribute("data-tapped"); });
    button.setAttribute("data-tapped", "");
    tappedControl = { name: button.name, value: button.value };
  });
  // After the browser's own move to the #member it was sent to, which would take the focus back.
  window.addEventListener("load", showTarget);
  window.addEventListener("hashchange", showTarget);

  // A tap that did not go through is said on the page and to a screen reader, never silent: htmx keeps the
  // page as it was on an error, so without this a member would think their answer was saved.
  function tell(text) {
    var messages = document.getElementById("messages");
    if (messages) {
      var line = document.createElement("p");
      line.className = "flash flash-error";
      line.setAttribute("data-from-tap", "");
      line.textContent = text;
      messages.replaceChildren(line);
      messages.scrollIntoView({ block: "nearest" });
    }
    var announce = document.getElementById("announce");
    if (announce) { announce.textContent = text; }
  }
  document.addEventListener("htmx:responseError", function (event) {
    var status = event.detail.xhr.status;
    tell(status === 400 ? "That was not saved: this page had expired. Reload the page and try again."
      : status === 429 ? "That was not saved: too many tries at once. Wait a minute and try again."
      : status >= 500 ? "That was not saved: something went wrong on our side. Try again in a minute."
      : "That was not saved. Reload the page and try again.");
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    document.querySelectorAll("[data-from-tap]").forEach(function (line) { line.remove(); });
    // The tapped control was swapped away with its block: its successor takes the focus, so a keyboard or a
    // screen reader stays where it was rather than going back to the top of the page.
    var tapped = tappedControl;
    tappedControl = null;
    if (!tapped || document.activeElement !== document.body) { return; }
    var target = event.detail.target;
    if (!target.isConnected && target.id) { target = document.getElementById(target.id) || target; }  // outerHTML
    var same = target.querySelector('button[name="' + tapped.name + '"][value="' + tapped.value + '"]') ||
      target.querySelector('button[name="' + tapped.name + '"]');
    if (same && !same.disabled) { same.focus(); }
  });
  document.addEventListener("htmx:sendError", function () {
    tell("That was not saved: there is no connection. Try again when you are back online.");
  });
  document.addEventListener("htmx:afterSwap", function (event) { focusFirstError(event.detail.target); });
})();
