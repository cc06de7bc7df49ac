"""The corpus and its expected outputs (golden files), per mode.

``expected/<mode>/`` holds every corpus file as ``migrate celery --to <mode>`` writes it
(a file the codemod leaves unchanged is there unchanged). Regenerate after a deliberate
change of the codemod, then read the diff before committing it::

    python -m tests.migrate.golden
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lexigram_compat.migrate.runner import Mode, Run, migrate

HERE = Path(__file__).parent
CORPUS = HERE / "corpus"
EXPECTED = HERE / "expected"
MODES: tuple[Mode, ...] = ("shims", "neutral")


def corpus_files() -> list[Path]:
    """Every Python file of the corpus, relative to it."""
    return sorted(p.relative_to(CORPUS) for p in CORPUS.rglob("*.py"))


def converted_copy(mode: Mode, target: Path) -> Run:
    """Copy the corpus to ``target`` and convert it there (``--write``)."""
    shutil.copytree(CORPUS, target, ignore=shutil.ignore_patterns("__pycache__"))
    run = migrate([target], mode)
    run.write()
    return run


def regenerate() -> None:
    for mode in MODES:
        out = EXPECTED / mode
        if out.exists():
            shutil.rmtree(out)
        converted_copy(mode, out)


if __name__ == "__main__":
    regenerate()
