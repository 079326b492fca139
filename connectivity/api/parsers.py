"""The API's JSON parser: DRF's, plus a bound on nesting.

Python's JSON decoder recurses once per `[` or `{`: a body of 100,000 nested brackets raises
RecursionError (a 500 in DRF's parser, which catches only ValueError). Nothing the API takes is
nested more than a few levels, so a body deeper than MAX_DEPTH is a 400 before anything else
(idempotency fingerprints, validation, error flattening) walks it recursively.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rest_framework import parsers
from rest_framework.exceptions import ParseError

MAX_DEPTH = 32


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether `value` nests lists/objects more than `limit` deep (iterative: no recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None,
              parser_context: Mapping[str, Any] | None = None) -> Any:
        too_deep = f"JSON parse error - nested deeper than {MAX_DEPTH} levels."
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise ParseError(too_deep) from None
        if _depth_exceeds(data, MAX_DEPTH):
            raise ParseError(too_deep)
        return data
