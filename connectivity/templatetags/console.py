"""Template helpers for the staff console."""

from __future__ import annotations

from typing import Any

from django import template

from connectivity.console.labels import staff_check_label

register = template.Library()


@register.filter(name="staff_label")
def staff_label(check: dict[str, Any]) -> str:
    return staff_check_label(check)
