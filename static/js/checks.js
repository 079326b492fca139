/* Shared by grant.js and request.js: render a pre-flight checklist from JSON, text only. */
window.PortalChecks = (function () {
  "use strict";
  var STATUS = {pass: "Passed", fail: "Failed", pending: "Pending"};

  function render(checks) {
    var list = document.createElement("ul");
    list.className = "checklist";
    list.setAttribute("data-checklist", "");
    if (!checks.length) {
      var none = document.createElement("li");
      none.className = "check check-none";
      none.textContent = "No checks have run yet.";
      list.appendChild(none);
    }
    checks.forEach(function (check) {
      var item = document.createElement("li");
      item.className = "check check-" + check.status;
      var status = document.createElement("span");
      status.className = "check-status";
      status.textContent = STATUS[check.status] || check.status;
      var body = document.createElement("span");
      body.className = "check-body";
      var label = document.createElement("strong");
      label.textContent = check.label;
      var msg = document.createElement("span");
      msg.className = "check-msg";
      msg.textContent = check.message;
      body.appendChild(label);
      body.appendChild(msg);
      item.appendChild(status);
      item.appendChild(body);
      list.appendChild(item);
    });
    return list;
  }

  function badge(state, label) {
    var span = document.createElement("span");
    span.className = "badge state-" + state;
    span.setAttribute("data-state-badge", "");
    span.textContent = label;
    return span;
  }

  return {render: render, badge: badge};
}());
