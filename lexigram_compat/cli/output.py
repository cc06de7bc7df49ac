"""What commands print: rich tables for people, JSON documents with ``--json``.

Results go to stdout; warnings and errors to stderr. Every string that reaches
either stream passes through :func:`scrub`, so a URL with a password inside a
job argument or an error message is printed redacted.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import click
from rich import box
from rich.console import Console
from rich.table import Table
from rich.text import Text

from lexigram_compat.config import redact_text
from lexigram_compat.queue import DeadLetter

__all__ = ["Column", "Output", "dead_letter_dict", "scrub"]

RAW_PREVIEW_CHARS = 1000
PIPE_WIDTH = 250


def scrub(value: Any) -> Any:
    """``value`` with URL passwords redacted in every string, for printing."""
    if isinstance(value, str):
        return redact_text(value)
    if isinstance(value, Mapping):
        return {str(k): scrub(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [scrub(v) for v in value]
    if isinstance(value, datetime):
        return value.isoformat()
    return value


def dead_letter_dict(letter: DeadLetter, *, full: bool = False) -> dict[str, Any]:
    """A JSON-friendly dead letter; ``full`` adds the traceback and raw payload."""
    data: dict[str, Any] = {
        "job_id": letter.job_id,
        "task_name": letter.task_name,
        "queue": letter.queue,
        "args": letter.args,
        "kwargs": letter.kwargs,
        "attempts": letter.attempts,
        "priority": letter.priority,
        "error_type": letter.error_type,
        "error_message": letter.error_message,
        "failed_at": letter.failed_at,
        "undecodable": letter.raw is not None,
    }
    if full:
        data["traceback"] = letter.traceback
        raw = letter.raw
        data["raw"] = None if raw is None else raw[:RAW_PREVIEW_CHARS].decode("utf-8", "backslashreplace")
    return scrub(data)  # type: ignore[no-any-return]


@dataclass(frozen=True)
class Column:
    """A table column: the dict key it shows and its header."""

    key: str
    header: str
    fold: bool = False
    justify: str = "left"


def _cell(value: Any) -> Text:
    if value is None:
        return Text("-")
    if isinstance(value, list | dict):
        return Text(json.dumps(value, default=str, ensure_ascii=False))
    return Text(str(value))


class Output:
    """Prints one command's results in the chosen form."""

    def __init__(self, json_mode: bool) -> None:
        self.json_mode = json_mode

    @property
    def console(self) -> Console:
        # Built on use so that it writes to the current sys.stdout (test runners swap it).
        # Piped output is not squeezed into 80 columns: tables keep their natural width.
        width = None if sys.stdout.isatty() else PIPE_WIDTH
        return Console(file=sys.stdout, highlight=False, soft_wrap=False, width=width)

    def json(self, document: Any) -> None:
        """Write ``document`` as JSON on stdout."""
        click.echo(json.dumps(scrub(document), indent=2, default=str, ensure_ascii=False))

    def line(self, text: str) -> None:
        """A plain result line on stdout (not in JSON mode)."""
        click.echo(redact_text(text))

    def warn(self, text: str) -> None:
        """A one-line warning on stderr (both modes)."""
        click.echo(f"warning: {redact_text(text)}", err=True)

    def note(self, text: str) -> None:
        """A one-line note on stderr (both modes)."""
        click.echo(f"note: {redact_text(text)}", err=True)

    def table(self, title: str | None, columns: Sequence[Column], rows: Sequence[Mapping[str, Any]]) -> None:
        """Render ``rows`` (dicts) as a table with ``columns``."""
        table = Table(title=title, title_justify="left", box=box.SIMPLE_HEAD)
        for col in columns:
            table.add_column(
                col.header,
                overflow="fold" if col.fold else "ellipsis",
                no_wrap=not col.fold,
                justify="right" if col.justify == "right" else "left",
                min_width=36 if col.fold else None,
            )
        for row in rows:
            table.add_row(*(_cell(scrub(row.get(col.key))) for col in columns))
        self.console.print(table)

    def fields(self, title: str, data: Mapping[str, Any]) -> None:
        """Render one record as a two-column key/value table."""
        table = Table(title=title, title_justify="left", show_header=False, box=box.SIMPLE)
        table.add_column("field", style="bold", no_wrap=True)
        table.add_column("value", overflow="fold")
        for key, value in data.items():
            table.add_row(Text(key), _cell(scrub(value)))
        self.console.print(table)

    def block(self, heading: str, text: str) -> None:
        """A heading and a preformatted block (a traceback) on stdout."""
        self.console.print(Text(heading, style="bold"))
        self.console.print(Text(redact_text(text.rstrip())), soft_wrap=True)
