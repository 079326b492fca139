"""Path converters for the API's ids, shared by every route that takes one.

An id that is not in the one form the API hands out never reaches a view: the route does not
match, and the API's catch-all answers a problem-details 404. That keeps `int()` away from
non-ASCII digits (`²`, `٣`) and from 5,000-digit strings, both of which raise ValueError.
"""

from __future__ import annotations

import uuid

MAX_ID = 2**63 - 1  # PostgreSQL bigint: a larger id cannot exist


class ClusterIdConverter:
    """A positive integer in ASCII digits that fits a bigint."""

    regex = "[0-9]{1,19}"

    def to_python(self, value: str) -> int:
        number = int(value)
        if not 0 < number <= MAX_ID:
            raise ValueError(f"{value} is not a cluster id")  # Django: the route does not match
        return number

    def to_url(self, value: object) -> str:
        return str(value)


class RequestIdConverter:
    """A UUID in its hyphenated form, any case; the view gets it lowercased."""

    regex = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"

    def to_python(self, value: str) -> str:
        return str(uuid.UUID(value))

    def to_url(self, value: object) -> str:
        return str(value)
