"""Write the corpus project as the top-level package ``proj`` in a directory: for real
Celery as written, for the shim with only the Celery import lines swapped, or converted
to the neutral API by the codemod itself.

The swap is textual and line-wise: ``from celery[.x] import ...`` becomes
``from lexigram_compat.celery[.x] import ...`` and ``import celery`` becomes
``import lexigram_compat.celery as celery``; every other byte is the module's own.

The neutral conversion is exactly ``lexigram-compat migrate celery proj --to neutral
--write`` run on the written project (what it leaves on the shim stays on the shim, as in
a converted project); its report is saved beside the package (``migrate-report.json``).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from lexigram_compat.migrate.runner import migrate

__all__ = ["PROJECT", "REPORT_FILE", "SUPPORT_MODULES", "Flavour", "materialise", "swap_imports"]

PROJECT = Path(__file__).with_name("proj")
SUPPORT_MODULES = ("__init__", "celery", "settings", "transaction")
"""The project's own modules every run has (the app, settings, the on_commit stand-in)."""
REPORT_FILE = "migrate-report.json"
"""The codemod's report of a neutral materialisation, in the directory beside ``proj``."""

Flavour = Literal["celery", "shim", "neutral"]
"""As written for real Celery; imports swapped to the shim; converted by the codemod."""

_FROM = re.compile(r"^(?P<indent>\s*)from celery(?P<sub>(\.\w+)*) import ", re.MULTILINE)
_IMPORT = re.compile(r"^(?P<indent>\s*)import celery\s*$", re.MULTILINE)


def swap_imports(source: str) -> str:
    """``source`` with its Celery import lines pointed at ``lexigram_compat.celery``."""
    source = _FROM.sub(r"\g<indent>from lexigram_compat.celery\g<sub> import ", source)
    return _IMPORT.sub(r"\g<indent>import lexigram_compat.celery as celery", source)


def materialise(directory: Path, modules: Iterable[str], *, flavour: Flavour) -> Path:
    """Write ``proj`` (its support modules and ``modules``) under ``directory`` in
    ``flavour``; the directory to put first on ``PYTHONPATH``."""
    package = directory / "proj"
    package.mkdir(parents=True, exist_ok=True)
    for name in (*SUPPORT_MODULES, *modules):
        source = (PROJECT / f"{name}.py").read_text()
        (package / f"{name}.py").write_text(swap_imports(source) if flavour == "shim" else source)
    if flavour == "neutral":
        run = migrate([package], "neutral")
        if run.report.unparsable:
            raise AssertionError(f"the codemod could not convert: {run.report.as_text()}")
        run.write()
        (directory / REPORT_FILE).write_text(json.dumps(run.report.as_json(), indent=1))
    return directory
