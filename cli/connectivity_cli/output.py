"""Tables for people, JSON and CSV for scripts. JSON is the API's own objects, unchanged."""

from __future__ import annotations

import csv
import json
import sys
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table


class Output(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


Column = tuple[str, Callable[[dict[str, Any]], Any]]

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def stdout() -> Console:
    return Console(soft_wrap=False, highlight=False)


def stderr() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


def text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list | tuple):
        return " ".join(text(v) for v in value)
    return str(value)


def csv_cell(value: Any) -> str:
    """A cell a spreadsheet will not run as a formula (OWASP's CSV injection advice)."""
    cell = text(value)
    return f"'{cell}" if cell.startswith(FORMULA_STARTS) else cell


def print_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def render(rows: Sequence[dict[str, Any]], columns: Sequence[Column], output: Output, *,
           title: str | None = None, empty: str = "Nothing to show.") -> None:
    if output is Output.json:
        print_json(list(rows))
        return
    if output is Output.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow([name for name, _ in columns])
        for row in rows:
            writer.writerow([csv_cell(get(row)) for _, get in columns])
        return
    if not rows:
        stderr().print(empty)
        return
    table = Table(title=title, header_style="bold")
    for name, _ in columns:
        table.add_column(name, overflow="fold")
    for row in rows:
        table.add_row(*(text(get(row)) for _, get in columns))
    stdout().print(table)


def print_problem(problem: dict[str, Any], status: int | None) -> None:
    """The API's problem details, the way a person reads them: what, why, which field."""
    console = stderr()
    title = problem.get("title") or "Error"
    code = problem.get("status") or status
    headline = f"Error {code} {title}" if code else f"Error: {title}"
    console.print(f"[bold red]{escape(headline)}[/]")
    if problem.get("detail"):
        console.print(escape(str(problem["detail"])))
    for field, messages in (problem.get("errors") or {}).items():
        for message in messages if isinstance(messages, list) else [messages]:
            console.print(f"  [bold]{escape(str(field))}[/]: {escape(str(message))}")
    if problem.get("current_state"):
        console.print(f"  current state: {escape(str(problem['current_state']))}")

