"""The README's capability table, generated from the engines' declared capabilities.

``python -m lexigram_compat.adapters.table README.md`` rewrites the block
between the ``capabilities`` markers; a test fails when the README is stale.
"""

from __future__ import annotations

import sys
from dataclasses import fields
from pathlib import Path

from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.engine_registry import ENGINES, engine_class, engine_key
from lexigram_compat.errors import EngineNotFoundError

__all__ = ["available_engines", "capability_table", "rewrite"]

START = "<!-- capabilities:start -->"
END = "<!-- capabilities:end -->"


def available_engines() -> dict[str, Capabilities]:
    """Capabilities of every engine that this installation can build, by table name."""
    out: dict[str, Capabilities] = {}
    for engine, backend in ENGINES:
        try:
            cls = engine_class(engine, backend)
        except EngineNotFoundError:
            continue
        out[engine_key(engine, backend)] = cls.capabilities
    return out


def capability_table() -> str:
    """A markdown table: one row per capability, one column per engine."""
    engines = available_engines()
    names = list(engines)
    lines = [
        "| capability | " + " | ".join(f"`{n}`" for n in names) + " |",
        "|---|" + "---|" * len(names),
    ]
    for f in fields(Capabilities):
        cells = []
        for name in names:
            value = getattr(engines[name], f.name)
            cells.append(("yes" if value else "no") if isinstance(value, bool) else str(value))
        lines.append(f"| {f.name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def rewrite(text: str) -> str:
    """``text`` with the block between the markers replaced by the current table."""
    head, sep, rest = text.partition(START)
    _, sep2, tail = rest.partition(END)
    if not sep or not sep2:
        raise ValueError(f"the markers {START} and {END} are missing")
    return f"{head}{START}\n{capability_table()}\n{END}{tail}"


if __name__ == "__main__":
    target = Path(sys.argv[1] if len(sys.argv) > 1 else "README.md")
    target.write_text(rewrite(target.read_text()))
