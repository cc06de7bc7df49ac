"""The engine's SQL: named statements from ``queries.sql``, the bookkeeping in
``schema.sql`` and the numbered ``migrations/``, with the schema name put in.

The schema is the only identifier ever put into SQL text, and only after
:func:`validate_schema` accepted it; everything else is a bound parameter.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources

from lexigram_compat.errors import ConfigurationError

__all__ = ["DEFAULT_SCHEMA", "Migration", "Queries", "migrations", "schema_bootstrap", "validate_schema"]

DEFAULT_SCHEMA = "lexigram"
# 58, not 63: the NOTIFY channel is "<schema>_jobs" and must fit PostgreSQL's 63-byte limit too.
_SCHEMA = re.compile(r"[a-z_][a-z0-9_]{0,57}")
_NAME_LINE = re.compile(r"^-- name: (\w+)\s*$", re.MULTILINE)
_MIGRATION_FILE = re.compile(r"(\d{4})_(\w+)\.sql")


def validate_schema(value: object) -> str:
    """Return ``value`` if it is a safe schema name, else raise ``ConfigurationError``."""
    if not isinstance(value, str) or not _SCHEMA.fullmatch(value):
        raise ConfigurationError(
            f"tasks.extra.postgres_schema={value!r} is not a valid schema name",
            hint="use 1-58 characters from a-z 0-9 _ (not starting with a digit), e.g. 'lexigram'",
        )
    return value


def _read(name: str) -> str:
    return resources.files(__package__).joinpath(name).read_text(encoding="utf-8")


def _with_schema(text: str, schema: str) -> str:
    # validate_schema allows no quote, so double quotes make an exact identifier.
    return text.replace("{schema}", f'"{validate_schema(schema)}"')


def _strip_comments(text: str) -> str:
    lines = [line for line in text.splitlines() if not line.lstrip().startswith("--")]
    return "\n".join(lines).strip().rstrip(";")


@cache
def _named_queries() -> dict[str, str]:
    text = _read("queries.sql")
    parts = _NAME_LINE.split(text)
    named = {name: _strip_comments(body) for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    # One text for the ready-jobs walk both claims take (see queries.sql's ready_jobs).
    return {name: body.replace("{ready_jobs}", named["ready_jobs"]) for name, body in named.items()}


class Queries:
    """The named statements of ``queries.sql`` for one schema, as attributes' lookup."""

    def __init__(self, schema: str) -> None:
        self.schema = validate_schema(schema)
        self.channel = f"{schema}_jobs"
        """The NOTIFY channel enqueues signal and workers LISTEN on (payload: the queue)."""
        self._texts = {name: _with_schema(body, schema) for name, body in _named_queries().items()}

    def __getitem__(self, name: str) -> str:
        return self._texts[name]


@dataclass(frozen=True)
class Migration:
    """One numbered file of ``migrations/``."""

    version: int
    name: str
    text: str

    def for_schema(self, schema: str) -> str:
        return _with_schema(self.text, schema)


@cache
def migrations() -> tuple[Migration, ...]:
    """Every migration, in version order."""
    found = []
    for entry in resources.files(__package__).joinpath("migrations").iterdir():
        match = _MIGRATION_FILE.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if versions != list(range(1, len(found) + 1)):
        raise RuntimeError(f"migrations must be numbered 0001, 0002, ... without gaps; found {versions}")
    return tuple(found)


def schema_bootstrap(schema: str) -> str:
    """``schema.sql`` for ``schema``: the schema and its migrations table."""
    return _with_schema(_read("schema.sql"), schema)
