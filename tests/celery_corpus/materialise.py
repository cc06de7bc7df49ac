"""Write the corpus project as the top-level package ``proj`` in a directory, for
real Celery as written, or for the shim with only the Celery import lines swapped.

The swap is textual and line-wise: ``from celery[.x] import ...`` becomes
``from lexigram_compat.celery[.x] import ...`` and ``import celery`` becomes
``import lexigram_compat.celery as celery``; every other byte is the module's own.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

__all__ = ["PROJECT", "SUPPORT_MODULES", "materialise", "swap_imports"]

PROJECT = Path(__file__).with_name("proj")
SUPPORT_MODULES = ("__init__", "celery", "settings", "transaction")
"""The project's own modules every run has (the app, settings, the on_commit stand-in)."""

_FROM = re.compile(r"^(?P<indent>\s*)from celery(?P<sub>(\.\w+)*) import ", re.MULTILINE)
_IMPORT = re.compile(r"^(?P<indent>\s*)import celery\s*$", re.MULTILINE)


def swap_imports(source: str) -> str:
    """``source`` with its Celery import lines pointed at ``lexigram_compat.celery``."""
    source = _FROM.sub(r"\g<indent>from lexigram_compat.celery\g<sub> import ", source)
    return _IMPORT.sub(r"\g<indent>import lexigram_compat.celery as celery", source)


def materialise(directory: Path, modules: Iterable[str], *, shim: bool) -> Path:
    """Write ``proj`` (its support modules and ``modules``) under ``directory``;
    the directory to put first on ``PYTHONPATH``."""
    package = directory / "proj"
    package.mkdir(parents=True, exist_ok=True)
    for name in (*SUPPORT_MODULES, *modules):
        source = (PROJECT / f"{name}.py").read_text()
        (package / f"{name}.py").write_text(swap_imports(source) if shim else source)
    return directory
