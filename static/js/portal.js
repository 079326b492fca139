/* Every page: copy buttons and confirmations. Loaded from a file: the CSP forbids inline script. */
(function () {
  "use strict";

  function flash(button, text) {
    var original = button.dataset.label || button.textContent;
    button.dataset.label = original;
    button.textContent = text;
    button.classList.add("is-done");
    window.setTimeout(function () {
      button.textContent = original;
      button.classList.remove("is-done");
    }, 1600);
  }

  function textFor(button) {
    if (button.dataset.copy !== undefined) { return button.dataset.copy; }
    var source = document.querySelector(button.dataset.copyFrom);
    if (!source) { return ""; }
    var ips = source.querySelectorAll(".ip");
    if (ips.length) {
      return Array.prototype.map.call(ips, function (el) { return el.textContent.trim(); }).join("\n");
    }
    return source.textContent.replace(/\s+$/, "") + "\n";
  }

  function fallbackCopy(text) {
    var area = document.createElement("textarea");
    area.value = text;
    area.setAttribute("readonly", "");
    area.className = "visually-hidden";
    document.body.appendChild(area);
    area.select();
    var ok = false;
    try { ok = document.execCommand("copy"); } catch (e) { ok = false; }
    document.body.removeChild(area);
    return ok;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button.copy");
    if (!button) { return; }
    var text = textFor(button);
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(function () { flash(button, "Copied"); },
        function () { flash(button, fallbackCopy(text) ? "Copied" : "Select and copy"); });
    } else {
      flash(button, fallbackCopy(text) ? "Copied" : "Select and copy");
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target;
    if (form.dataset && form.dataset.confirm && !window.confirm(form.dataset.confirm)) {
      event.preventDefault();
    }
  });

  // Focus the error summary after a failed submit so keyboard and screen-reader users land on it.
  document.addEventListener("DOMContentLoaded", function () {
    var summary = document.getElementById("form-errors");
    if (summary) { summary.focus(); }
  });
}());
