"""Check labels as staff read them: the stored labels speak to the customer ("your VNet")."""

from __future__ import annotations

import re
from typing import Any

_YOUR = re.compile(r"\b([Yy])ours?\b")


def staff_check_label(check: dict[str, Any]) -> str:
    """"Your VNet exists" → "The customer's VNet exists": the same check, told to staff."""
    label = str(check.get("label", ""))
    return _YOUR.sub(lambda m: "The customer's" if m.group(1) == "Y" else "the customer's", label)
