/* New request wizard: show the chosen kind's fields, validate each field as it is left. */
(function () {
  "use strict";
  var form = document.getElementById("wizard");
  if (!form) { return; }
  var csrf = form.querySelector("input[name=csrfmiddlewaretoken]").value;
  var validateUrl = form.dataset.validateUrl;

  function selectedKind() {
    var checked = form.querySelector("input[name=kind]:checked");
    return checked ? checked.value : "";
  }

  function showKind() {
    var kind = selectedKind();
    form.querySelectorAll(".kind-fields").forEach(function (fieldset) {
      var active = fieldset.dataset.kind === kind;
      fieldset.hidden = !active;
      fieldset.disabled = !active;
    });
    // Only a kind that needs the customer's role has the "Grant the role" step.
    var grantStep = document.querySelector("[data-step-grant]");
    if (grantStep) {
      var needsGrant = (grantStep.dataset.kindsWithGrant || "").split(" ").indexOf(kind) >= 0;
      grantStep.hidden = !needsGrant;
      document.querySelectorAll("[data-step-num-verify]").forEach(function (num) {
        num.textContent = needsGrant ? "3" : "2";
      });
    }
  }

  function showErrors(wrapper, errors) {
    var box = wrapper.querySelector(".field-errors");
    var input = wrapper.querySelector("input, textarea, select");
    box.textContent = "";
    errors.forEach(function (message) {
      var p = document.createElement("p");
      p.className = "error";
      p.textContent = message;
      box.appendChild(p);
    });
    wrapper.classList.toggle("has-error", errors.length > 0);
    wrapper.classList.toggle("is-valid", errors.length === 0 && input.value.trim() !== "");
    if (errors.length) {
      input.setAttribute("aria-invalid", "true");
    } else {
      input.removeAttribute("aria-invalid");
    }
    var described = (input.getAttribute("aria-describedby") || "").split(" ").filter(Boolean);
    if (described.indexOf(box.id) === -1) { described.push(box.id); }
    input.setAttribute("aria-describedby", described.join(" "));
  }

  function validate(input) {
    var wrapper = input.closest(".field");
    if (!wrapper || input.type === "checkbox") { return; }
    var fieldset = input.closest(".kind-fields");
    var body = new FormData();
    body.append("csrfmiddlewaretoken", csrf);
    body.append("field", input.name);
    // The whole fieldset goes along: a VNet id makes the three fields below it optional.
    if (fieldset) {
      fieldset.querySelectorAll("input, textarea").forEach(function (other) {
        if (other.type === "checkbox") {
          if (other.checked) { body.append(other.name, "on"); }
        } else {
          body.append(other.name, other.value);
        }
      });
    }
    fetch(validateUrl, {method: "POST", body: body, credentials: "same-origin",
                        headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (data) { if (data) { showErrors(wrapper, data.errors || []); } })
      .catch(function () { /* the server validates again on submit */ });
  }

  // A pasted VNet resource id fills the three fields it contains.
  var vnetId = form.querySelector("[name='vnet_peering-vnet_resource_id']");
  var pattern = /^\/subscriptions\/([^/]+)\/resourceGroups\/([^/]+)\/providers\/Microsoft\.Network\/virtualNetworks\/([^/]+)\/?$/i;
  function fillFromId() {
    var match = pattern.exec(vnetId.value.trim());
    if (!match) { return; }
    ["subscription_id", "resource_group", "vnet_name"].forEach(function (name, i) {
      var target = form.querySelector("[name='vnet_peering-" + name + "']");
      target.value = decodeURIComponent(match[i + 1]);
      validate(target);
    });
  }
  if (vnetId) {
    vnetId.addEventListener("input", fillFromId);
  }

  form.addEventListener("change", function (event) {
    if (event.target.name === "kind") { showKind(); }
  });
  form.addEventListener("focusout", function (event) {
    var input = event.target;
    if (input.matches(".kind-fields input, .kind-fields textarea") && input.value.trim() !== "") {
      validate(input);
    }
  });
  showKind();
}());
