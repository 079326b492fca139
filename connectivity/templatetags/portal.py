"""Template helpers for the customer pages."""

from __future__ import annotations

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
