"""Cursor pagination: stable under inserts, which offset pages are not while requests are filed.

`page_size` is 1-100 (25 when absent) and `cursor` is the opaque value of a page's `next` or
`previous` link, at most MAX_CURSOR_LENGTH characters; anything else is a 400 naming the
parameter, as the schema says.
"""

from __future__ import annotations

import re
from typing import Any

from django.core.exceptions import ValidationError as DjangoValidationError
from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request

MAX_CURSOR_LENGTH = 200
_ASCII_INTEGER = re.compile(r"[0-9]{1,4}")


class NewestFirstCursor(CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-pk")

    def get_page_size(self, request: Request) -> int:
        values = request.query_params.getlist(self.page_size_query_param)
        if not values:
            return self.page_size
        value = values[-1]
        if not _ASCII_INTEGER.fullmatch(value) or not 1 <= int(value) <= self.max_page_size:
            raise ValidationError({self.page_size_query_param: [
                f"page_size must be a whole number from 1 to {self.max_page_size}; "
                f"leave it out for {self.page_size}."]})
        return int(value)

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        cursors = request.query_params.getlist(self.cursor_query_param)
        if any(not c or len(c) > MAX_CURSOR_LENGTH for c in cursors):
            raise self._bad_cursor()
        try:
            return super().paginate_queryset(queryset, request, view)
        except (NotFound, DjangoValidationError, ValueError):  # forged position: not a timestamp
            raise self._bad_cursor() from None

    def _bad_cursor(self) -> ValidationError:
        return ValidationError({self.cursor_query_param: [
            "This cursor is not valid: use the `next` or `previous` link of a page as given."]})

    def get_schema_operation_parameters(self, view: Any) -> list[dict[str, Any]]:
        return [
            {"name": self.cursor_query_param, "required": False, "in": "query",
             "description": "The opaque value of a page's `next` or `previous` link.",
             "schema": {"type": "string", "minLength": 1, "maxLength": MAX_CURSOR_LENGTH}},
            {"name": self.page_size_query_param, "required": False, "in": "query",
             "description": f"Items per page, 1-{self.max_page_size}; {self.page_size} if absent.",
             "schema": {"type": "integer", "minimum": 1, "maximum": self.max_page_size,
                        "default": self.page_size}},
        ]


class OldestFirstCursor(NewestFirstCursor):
    """Timelines and threads read top to bottom."""

    ordering = ("created_at", "pk")
