"""CSV cells a spreadsheet will not run as a formula (OWASP "CSV injection")."""

from __future__ import annotations

#: A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice and
#: Google Sheets; prefixing a single quote makes it text.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r", "\n")


def cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text
