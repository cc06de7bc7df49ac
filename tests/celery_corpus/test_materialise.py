"""The import swap: a shim module is its Celery original with only the Celery import
lines changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .materialise import PROJECT, REPORT_FILE, SUPPORT_MODULES, materialise, swap_imports

MODULES = sorted(path.stem for path in PROJECT.glob("[mp][0-9][0-9]_*.py"))


def test_swap_rewrites_only_celery_import_lines() -> None:
    source = (
        "from celery import Celery, shared_task\n"
        "from celery.signals import task_prerun\n"
        "    from celery.schedules import crontab\n"
        "import celery\n"
        "import celery_extras\n"
        "from celeryx import y\n"
        "x = 'from celery import Celery'\n"
    )
    assert swap_imports(source) == (
        "from lexigram_compat.celery import Celery, shared_task\n"
        "from lexigram_compat.celery.signals import task_prerun\n"
        "    from lexigram_compat.celery.schedules import crontab\n"
        "import lexigram_compat.celery as celery\n"
        "import celery_extras\n"
        "from celeryx import y\n"
        "x = 'from celery import Celery'\n"
    )


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """The project materialised for real Celery and for the shim."""
    base = tmp_path_factory.mktemp("materialised")
    return materialise(base / "real", MODULES, flavour="celery"), materialise(
        base / "shim", MODULES, flavour="shim"
    )


@pytest.mark.parametrize("module", [*SUPPORT_MODULES, *MODULES])
def test_materialised_modules_differ_only_in_celery_imports(module: str, written: tuple[Path, Path]) -> None:
    real, shim = (directory / "proj" / f"{module}.py" for directory in written)
    original = (PROJECT / f"{module}.py").read_text()
    assert real.read_text() == original
    pairs = list(zip(original.splitlines(), shim.read_text().splitlines(), strict=True))
    changed = [(before, after) for before, after in pairs if before != after]
    assert all("celery" in before.split("import")[0] for before, _ in changed), changed
    assert all("lexigram_compat.celery" in after for _, after in changed), changed
    assert not any(line.lstrip().startswith(("from celery", "import celery")) for _, line in pairs)


def test_the_neutral_materialisation_is_the_codemods_written_output(tmp_path: Path) -> None:
    """``flavour="neutral"`` is ``migrate celery proj --to neutral --write``: every module
    compiles, no line imports Celery any more, and the report saved beside it says so."""
    directory = materialise(tmp_path, MODULES, flavour="neutral")
    report = json.loads((directory / REPORT_FILE).read_text())
    assert report["mode"] == "neutral"
    assert report["unparsable"] == []
    for module in (*SUPPORT_MODULES, *MODULES):
        text = (directory / "proj" / f"{module}.py").read_text()
        compile(text, module, "exec", dont_inherit=True)
        assert not any(
            line.lstrip().startswith(("from celery", "import celery")) for line in text.splitlines()
        )
        if str(directory / "proj" / f"{module}.py") in report["changed"]:
            assert text != (PROJECT / f"{module}.py").read_text()
    assert "@task(" in (directory / "proj" / "m01_app_task_plain.py").read_text()
