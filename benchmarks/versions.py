"""Subjects measured as another commit had them: ``postgres@3fe3850`` in ``--subjects``.

A change must show it made no engine slower, side by side with the commit before
it, in one run (interleaved repeats, one machine). One Python process cannot hold
two versions of ``lexigram_compat``, so a versioned subject is measured in a child
process whose ``PYTHONPATH`` puts a copy of that commit's tree first (``git
archive`` into ``benchmarks/.versions/<sha>/``, made once): the child runs that
commit's own harness on that commit's own subject (and the worker processes the
subject starts import the same tree), and reports the figures back as JSON.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import os
import subprocess
import sys
from pathlib import Path

__all__ = ["SEPARATOR", "measure_at", "split", "tree_of"]

SEPARATOR = "@"
ROOT = Path(__file__).resolve().parents[1]
VERSIONS = ROOT / "benchmarks" / ".versions"
RESULT_MARKER = "LEXIGRAM-BENCH-RESULT "

_CHILD = f"""
import asyncio, json, sys
from benchmarks.harness import Scenario, _measure, load_subject
spec = json.loads(sys.stdin.read())
cls = load_subject(spec["subject"])
values = asyncio.run(_measure(cls, Scenario(**spec["scenario"]), lambda line: print(line, file=sys.stderr)))
print({RESULT_MARKER!r} + json.dumps({{"title": cls.title, "values": values}}), flush=True)
"""


def split(name: str) -> tuple[str, str | None]:
    """``"postgres@abc123"`` → ``("postgres", "abc123")``; a plain name has no ref."""
    subject, sep, ref = name.partition(SEPARATOR)
    return subject, (ref if sep else None)


def tree_of(ref: str) -> Path:
    """A copy of ``ref``'s tree (made once per commit), for a child's ``PYTHONPATH``."""
    sha = subprocess.run(
        ["git", "rev-parse", "--verify", f"{ref}^{{commit}}"],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    if sha.returncode != 0:
        raise KeyError(f"benchmark subject ref {ref!r} is not a commit here: {sha.stderr.strip()}")
    tree = VERSIONS / sha.stdout.strip()
    if not (tree / "lexigram_compat").is_dir():
        tree.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", sha.stdout.strip()], cwd=ROOT, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(tree)], input=archive.stdout, check=True)
    return tree


async def measure_at(
    tree: Path, subject: str, scenario: object, progress: object
) -> tuple[str, dict[str, float | None]]:
    """Run one ``_measure`` of ``subject`` with ``tree``'s code; ``(title, values)``."""
    env = {**os.environ, "PYTHONPATH": str(tree)}
    child = await asyncio.create_subprocess_exec(
        sys.executable, "-c", _CHILD,
        cwd=tree, env=env,
        stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    spec = {"subject": subject, "scenario": dataclasses.asdict(scenario)}  # type: ignore[call-overload]
    out, err = await child.communicate(json.dumps(spec).encode())
    say = progress if callable(progress) else None
    for line in err.decode(errors="replace").splitlines():
        if say is not None and line.strip():
            say(f"  [{tree.name[:8]}] {line}")
    for line in reversed(out.decode(errors="replace").splitlines()):
        if line.startswith(RESULT_MARKER):
            found = json.loads(line[len(RESULT_MARKER) :])
            return str(found["title"]), dict(found["values"])
    raise RuntimeError(
        f"{subject}@{tree.name[:8]} did not report (exit {child.returncode}):\n{err.decode()[-3000:]}"
    )
