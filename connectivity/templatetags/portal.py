"""Template helpers for the customer pages."""

from __future__ import annotations

from typing import Any

import nh3
from django import template
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

from connectivity.models import RequestState

register = template.Library()

# "js-default" without HTML: raw HTML in a comment stays text; then nh3 removes anything a
# rendering quirk might still let through (e.g. javascript: links).
_markdown = MarkdownIt("js-default", {"html": False, "linkify": False, "breaks": True})
_ALLOWED_TAGS = {"p", "br", "strong", "em", "code", "pre", "ul", "ol", "li", "a", "blockquote",
                 "h1", "h2", "h3", "h4", "hr", "del", "table", "thead", "tbody", "tr", "th", "td"}


def render_markdown(text: str) -> str:
    """Markdown to HTML that is safe to show: no raw HTML, no scripts, links open safely."""
    html = _markdown.render(text or "")
    return nh3.clean(html, tags=_ALLOWED_TAGS, attributes={"a": {"href", "title"}},
                     url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer nofollow")


@register.filter(name="markdown")
def markdown_filter(text: str) -> SafeString:
    return mark_safe(render_markdown(text))  # noqa: S308 - sanitised by nh3 just above


@register.inclusion_tag("connectivity/_badge.html")
def state_badge(state: str, label: str) -> dict[str, str]:
    return {"state": state, "label": label}


@register.filter
def state_label(state: str) -> str:
    try:
        return RequestState(state).label
    except ValueError:
        return state


@register.filter
def action_label(action: str) -> str:
    """An event's action as words: ready_for_approval → Ready for approval."""
    return (action or "").replace("_", " ").capitalize()


@register.filter
def failing_check(checks: Any) -> dict[str, Any] | None:
    """The first failed pre-flight check of a stored checklist (None when none failed)."""
    for check in checks or []:
        if isinstance(check, dict) and check.get("status") == "fail":
            return check
    return None


# Events whose text lives elsewhere: a comment's words are in the thread, not the timeline.
IN_THREAD_ACTIONS = frozenset({"commented"})


def event_lines(message: str, action: str = "") -> dict[str, Any]:
    """An event's message as the timeline shows it: a short first line and, for a multi-line
    message (e.g. the checks a pre-flight failed), one list item per further line."""
    if action in IN_THREAD_ACTIONS:
        return {"head": "", "items": [], "in_thread": True}
    lines = [line.strip() for line in (message or "").splitlines() if line.strip()]
    if not lines:
        return {"head": "", "items": [], "in_thread": False}
    return {"head": lines[0], "items": [line.removeprefix("- ") for line in lines[1:]],
            "in_thread": False}


@register.filter(name="event_lines")
def event_lines_filter(event: Any) -> dict[str, Any]:
    return event_lines(getattr(event, "message", ""), getattr(event, "action", ""))


@register.filter
def kind_description(key: str) -> str:
    """The wizard's sentence for a kind, by its key."""
    from connectivity import kinds

    try:
        return kinds.get(key).description
    except kinds.UnknownKind:
        return ""


@register.filter
def customer_command(req: Any) -> str:
    """The command the request's kind asks the customer to run on their own side now
    (``Kind.customer_command``); empty for kinds that need none."""
    return str(req.kind_def.customer_command(req) or "")


@register.filter
def grant_target_name(req: Any) -> str:
    """The name of what the customer's role is assigned on (their VNet, their hub)."""
    return str(req.kind_def.grant_target_name(req) or "")
