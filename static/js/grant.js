/* Grant page: "Verify grant" runs the pre-flight without leaving the page and lists each check. */
(function () {
  "use strict";
  var form = document.querySelector("form[data-verify]");
  if (!form) { return; }
  var button = form.querySelector("[data-verify-button]");
  var spinner = form.querySelector("[data-verify-spinner]");
  var result = document.querySelector("[data-verify-result]");

  function say(text, kind) {
    var p = document.createElement("p");
    p.className = "verify-outcome" + (kind ? " outcome-" + kind : "");
    p.textContent = text;
    return p;
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    button.disabled = true;
    spinner.hidden = false;
    button.textContent = "Checking…";
    fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                        headers: {"Accept": "application/json"}})
      .then(function (response) {
        return response.json().then(function (data) { return {status: response.status, data: data}; });
      })
      .then(function (reply) {
        var data = reply.data;
        if (data.error) {
          // Rate-limited or refused: say so above the last checklist, which still holds.
          result.querySelectorAll(".outcome-error").forEach(function (old) { old.remove(); });
          result.insertBefore(say(data.error, "error"), result.firstChild);
          return;
        }
        result.textContent = "";
        result.appendChild(say(data.message, data.passed ? "ok" : "warn"));
        result.appendChild(window.PortalChecks.render(data.checks || []));
        document.querySelectorAll("[data-state-badge]").forEach(function (old) {
          old.replaceWith(window.PortalChecks.badge(data.state, data.label));
        });
        if (data.passed) {
          var link = document.createElement("a");
          link.href = data.detail_url;
          link.className = "btn btn-primary";
          link.textContent = "Follow the request";
          result.appendChild(link);
          form.hidden = true;
        }
      })
      .catch(function () {
        result.querySelectorAll(".outcome-error").forEach(function (old) { old.remove(); });
        result.insertBefore(say("The check could not run (network error); try again.", "error"),
                            result.firstChild);
      })
      .then(function () {
        button.disabled = false;
        spinner.hidden = true;
        button.textContent = "Verify again";
      });
  });
}());

/* Grant page: the format switch shows one tool's panels without reloading; the links still work
   without script (the server renders the chosen format). */
(function () {
  "use strict";
  var tabs = document.querySelectorAll("[data-format-tab]");
  if (!tabs.length) { return; }

  function choose(key) {
    document.querySelectorAll("[data-format-panel]").forEach(function (panel) {
      panel.hidden = panel.dataset.formatPanel !== key;
    });
    tabs.forEach(function (tab) {
      var current = tab.dataset.formatTab === key;
      tab.classList.toggle("is-current", current);
      if (current) { tab.setAttribute("aria-current", "true"); } else { tab.removeAttribute("aria-current"); }
    });
  }

  tabs.forEach(function (tab) {
    tab.addEventListener("click", function (event) {
      event.preventDefault();
      choose(tab.dataset.formatTab);
      var url = new URL(window.location.href);
      url.searchParams.set("format", tab.dataset.formatTab);
      window.history.replaceState(null, "", url.pathname + url.search + "#formats");
    });
  });
}());
