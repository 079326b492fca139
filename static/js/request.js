/* Request page: poll the status endpoint and update state, timeline, checks, resources, thread
   and the revoke reminder in place, without a reload. */
(function () {
  "use strict";
  var page = document.getElementById("request-page");
  if (!page) { return; }
  var url = page.dataset.statusUrl;
  var lastEvent = parseInt(page.dataset.lastEvent || "0", 10);
  var lastComment = parseInt(page.dataset.lastComment || "0", 10);
  var FAST = 3000, SLOW = 15000;
  var timer = null;
  var lastChecks = null, lastResources = null;

  function $(selector) { return document.querySelector(selector); }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function addEvent(event) {
    var item = el("li", "event" + (event.to_state ? " event-state" : "") + " is-new");
    var time = el("time", "", event.time_display);
    time.setAttribute("datetime", event.time);
    var title = el("p", "event-title");
    if (event.to_state) {
      title.appendChild(window.PortalChecks.badge(event.to_state, event.to_label));
    } else {
      title.appendChild(el("span", "event-action", event.action));
    }
    title.appendChild(document.createTextNode(" "));
    title.appendChild(el("span", "event-actor", "by " + event.actor));
    item.appendChild(time);
    item.appendChild(title);
    var lines = event.lines || {head: event.message, items: []};
    if (lines.in_thread) {
      var note = el("p", "event-msg");
      var link = el("a", "event-link", "Message in the conversation");
      link.href = "#thread";
      note.appendChild(link);
      item.appendChild(note);
    } else if (lines.head) {
      item.appendChild(el("p", "event-msg", lines.head));
      if (lines.items.length) {
        var list = el("ul", "event-lines");
        lines.items.forEach(function (text) { list.appendChild(el("li", "", text)); });
        item.appendChild(list);
      }
    }
    $("[data-live-timeline]").appendChild(item);
  }

  function addComment(comment) {
    var empty = $("[data-empty-thread]");
    if (empty) { empty.remove(); }
    var item = el("li", "comment" + (comment.staff ? " comment-staff" : "") + " is-new");
    var meta = el("p", "comment-meta");
    meta.appendChild(el("strong", "", comment.author));
    if (comment.staff) {
      meta.appendChild(document.createTextNode(" "));
      meta.appendChild(el("span", "tag", "Support"));
    }
    meta.appendChild(document.createTextNode(" · " + comment.time_display));
    var body = el("div", "comment-body");
    // Rendered by the server from markdown with HTML disabled, then sanitised with nh3.
    body.innerHTML = comment.html;
    item.appendChild(meta);
    item.appendChild(body);
    $("[data-live-comments]").appendChild(item);
  }

  function renderResources(resources) {
    // Labelled by the server; deleted ones marked, as the page first rendered them.
    var box = $("[data-live-resources]");
    box.textContent = "";
    if (!resources.length) {
      box.appendChild(el("div", "empty", "Nothing created yet."));
      return;
    }
    resources.forEach(function (resource) {
      var row = el("div", resource.deleted ? "is-deleted" : "");
      var label = el("dt", "", resource.label);
      if (resource.deleted || resource.left_behind) {
        label.appendChild(document.createTextNode(" "));
        label.appendChild(el("span", "tag", resource.deleted ? "deleted" : "left on your VNet"));
      }
      row.appendChild(label);
      var ids = el("dd", "mono wrap");
      resource.ids.forEach(function (id, index) {
        if (index) { ids.appendChild(document.createElement("br")); }
        ids.appendChild(document.createTextNode(id));
      });
      row.appendChild(ids);
      box.appendChild(row);
    });
  }

  function apply(data) {
    var badgeBox = $("[data-live-badge]");
    var current = badgeBox.querySelector("[data-state-badge]");
    if (!current || !current.classList.contains("state-" + data.state)) {
      badgeBox.textContent = "";
      badgeBox.appendChild(window.PortalChecks.badge(data.state, data.label));
      page.dataset.state = data.state;
    }
    var message = $("[data-status-message]");
    var text = data.status_text !== undefined ? data.status_text : data.status_message;
    if (message.textContent !== text) {
      message.textContent = text;
      message.classList.toggle("is-empty", !text);
    }
    var leftover = $("[data-leftover]");
    if (leftover) {
      leftover.hidden = !data.leftover_command;
      var command = $("[data-leftover-command]");
      if (command.textContent !== data.leftover_command) { command.textContent = data.leftover_command || ""; }
    }
    data.events.forEach(function (event) {
      addEvent(event);
      lastEvent = Math.max(lastEvent, event.id);
    });
    data.comments.forEach(function (comment) {
      addComment(comment);
      lastComment = Math.max(lastComment, comment.id);
    });
    var checks = JSON.stringify(data.checks);
    var holder = $("[data-live-checks]");
    // After completion or removal the checklist is history, shown as the page rendered it.
    if (checks !== lastChecks && holder && !data.checks_history) {
      holder.textContent = "";
      holder.appendChild(window.PortalChecks.render(data.checks));
    }
    lastChecks = checks;
    var resources = JSON.stringify(data.resources);
    if (resources !== lastResources) { renderResources(data.resources); }
    lastResources = resources;
    $("[data-revoke-reminder]").hidden = !data.revoke_reminder;
    // The reason follows the state (in place, removed, cancelled...) without a reload.
    var reason = $("[data-revoke-reason-text]");
    if (reason && data.revoke_reason && reason.textContent !== data.revoke_reason) {
      reason.textContent = data.revoke_reason;
    }
    $("[data-revoked-note]").hidden = !data.grant_revoked_at;
    Object.keys(data.actions).forEach(function (name) {
      var node = document.querySelector("[data-action='" + name + "']");
      if (node) { node.hidden = !data.actions[name]; }
    });
    return data.terminal ? SLOW : FAST;
  }

  function poll() {
    var query = "?since=" + lastEvent + "&comments_since=" + lastComment;
    fetch(url + query, {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) {
        if (!response.ok) { throw new Error("status " + response.status); }
        return response.json();
      })
      .then(function (data) {
        page.classList.remove("is-offline");
        schedule(apply(data));
      })
      .catch(function () {
        page.classList.add("is-offline");
        schedule(SLOW);
      });
  }

  function schedule(delay) {
    window.clearTimeout(timer);
    timer = window.setTimeout(poll, document.hidden ? SLOW : delay);
  }

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden) { schedule(0); }
  });

  // "Check again" without leaving the page.
  var revokeForm = document.querySelector("form[data-check-revoke]");
  if (revokeForm) {
    revokeForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var out = $("[data-check-revoke-result]");
      var button = revokeForm.querySelector("button");
      button.disabled = true;
      out.textContent = "Checking…";
      fetch(revokeForm.action, {method: "POST", body: new FormData(revokeForm),
                                credentials: "same-origin", headers: {"Accept": "application/json"}})
        .then(function (response) { return response.json(); })
        .then(function (data) { out.textContent = data.message || data.error || ""; schedule(0); })
        .catch(function () { out.textContent = "The check could not run (network error); try again."; })
        .then(function () { button.disabled = false; });
    });
  }

  schedule(FAST);
}());
