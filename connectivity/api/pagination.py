"""Cursor pagination: stable under inserts, which offset pages are not while requests are filed."""

from __future__ import annotations

from typing import Any

from rest_framework.exceptions import NotFound, ValidationError
from rest_framework.pagination import CursorPagination
from rest_framework.request import Request


class NewestFirstCursor(CursorPagination):
    page_size = 25
    page_size_query_param = "page_size"
    max_page_size = 100
    ordering = ("-created_at", "-pk")

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        try:
            return super().paginate_queryset(queryset, request, view)
        except NotFound:
            raise ValidationError({self.cursor_query_param: [
                "This cursor is not valid: use the `next` or `previous` link of a page as given."
            ]}) from None


class OldestFirstCursor(NewestFirstCursor):
    """Timelines and threads read top to bottom."""

    ordering = ("created_at", "pk")
