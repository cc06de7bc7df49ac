"""``migrate celery`` on the corpus: the expected output per file and mode, idempotence,
outputs that compile, every construct left reported on its line, and the figures."""

from __future__ import annotations

import functools
import re
import shutil
from pathlib import Path

import libcst as cst
import pytest

from lexigram_compat.migrate.analysis import FileInfo, Project
from lexigram_compat.migrate.findings import GUIDE, SECTIONS, Report
from lexigram_compat.migrate.refusals import call_option_refused, task_option_refused
from lexigram_compat.migrate.runner import Mode, Run, migrate
from tests.migrate.golden import CORPUS, EXPECTED, MODES, converted_copy, corpus_files

LEFT_MARK = "# LEFT"
UNPARSABLE = Path("broken/tasks.py")
PY314 = (Path("py314/tasks.py"), Path("py314/handlers.py"))


@functools.cache
def _dry_run(mode: Mode) -> Run:
    """One dry run over the corpus per mode (the tests only read it)."""
    return migrate([CORPUS], mode)


def _marked_lines() -> set[tuple[Path, int]]:
    """The (file, line) of every construct the corpus says must be reported as left."""
    marked = set()
    for relative in corpus_files():
        for number, line in enumerate((CORPUS / relative).read_text().splitlines(), start=1):
            if line.rstrip().endswith(LEFT_MARK):
                marked.add((relative, number))
    return marked


def test_the_corpus_is_large_enough_to_mean_something() -> None:
    written = [p for p in corpus_files() if (CORPUS / p).stat().st_size > 0]
    assert len(written) >= 60


@pytest.mark.parametrize("mode", MODES)
def test_each_file_becomes_its_expected_output(mode: Mode) -> None:
    run = _dry_run(mode)
    outputs = {change.source.path.relative_to(CORPUS): change.new_text for change in run.changes}
    unparsed = {Path(f.path).relative_to(CORPUS) for f in run.report.unparsable}
    assert unparsed == {UNPARSABLE}
    for relative in corpus_files():
        expected = (EXPECTED / mode / relative).read_text()
        got = outputs.get(relative, (CORPUS / relative).read_text())
        assert got == expected, f"{mode}: {relative} differs from tests/migrate/expected/{mode}/{relative}"


@pytest.mark.parametrize("mode", MODES)
def test_a_second_run_changes_nothing(mode: Mode, tmp_path: Path) -> None:
    first = converted_copy(mode, tmp_path / "project")
    assert first.report.changed
    second = migrate([tmp_path / "project"], mode)
    assert [c.source.shown for c in second.changes if c.changed] == []


@pytest.mark.parametrize("mode", MODES)
def test_every_output_compiles_and_the_unparsable_file_is_left_untouched(mode: Mode) -> None:
    for relative in corpus_files():
        text = (EXPECTED / mode / relative).read_text()
        if relative == UNPARSABLE:
            assert text == (CORPUS / relative).read_text()
        elif relative in PY314:
            # Python 3.14 syntax: this interpreter cannot compile it, libcst's parser must accept it.
            cst.parse_module(text)
            assert "except ValueError, TypeError:" in text or "except RuntimeError, OSError:" in text
        else:
            compile(text, str(relative), "exec", dont_inherit=True)


def test_python_314_files_are_converted_not_skipped() -> None:
    run = migrate([CORPUS / "py314"], "neutral")
    assert run.report.unparsable == []
    assert sorted(run.report.changed) == sorted(str(CORPUS / p) for p in PY314)
    converted = (EXPECTED / "neutral" / "py314/tasks.py").read_text()
    assert "raise Retry(exc=exc, delay=15)" in converted
    assert "def fetch(url):" in converted  # self was only used for self.retry


def test_every_construct_left_is_reported_on_its_line() -> None:
    report = _dry_run("neutral").report
    left = report.left() + report.unparsable
    reported = {(Path(f.path).relative_to(CORPUS), f.line) for f in left}
    assert reported == _marked_lines()
    for finding in left:
        assert finding.step
        assert finding.link.startswith("migration_guide/README.md#")


def test_shims_reports_what_the_shim_cannot_import_or_refuses() -> None:
    report = _dry_run("shims").report
    marked = _marked_lines()
    for finding in report.left():
        if (Path(finding.path).relative_to(CORPUS), finding.line) in marked:
            continue
        # Otherwise an option the shim refuses as it stands (asked of the shim, so this test
        # follows the shim as it learns options): the shim would raise on it at import.
        assert finding.kind in {"definition", "call"}, finding
        option = re.search(r"\((?:\.\.\., )?(\w+)=", finding.construct)
        assert option is not None, finding
        if finding.kind == "call":
            assert call_option_refused(option.group(1)) is not None
        else:
            assert task_option_refused(cst.parse_module(""), option.group(1), cst.Name("None")) is not None
    imports = {(Path(f.path).relative_to(CORPUS), f.line) for f in report.left() if f.kind == "import"}
    assert imports <= marked
    assert (Path("pipeline/tasks.py"), 1) in imports  # from celery import chain, chord, group
    refused = {f.construct for f in report.left() if f.kind == "definition"}
    assert "@shared_task(ignore_results=...)" in refused  # Celery ignores the misspelling
    assert "@shared_task(max_retry=...)" in refused


def test_the_summary_converts_at_least_90_percent_of_definitions_and_call_sites() -> None:
    summary = _dry_run("neutral").report.summary.as_json()
    assert summary["definitions"] == {"found": 150, "converted": 139, "left": 11, "percent": 92.7}
    assert summary["call_sites"] == {"found": 152, "converted": 139, "left": 13, "percent": 91.4}
    assert summary["schedules"] == {"found": 21, "converted": 17, "left": 4, "percent": 81.0}


def test_nothing_is_written_without_write_and_write_applies_the_diff(tmp_path: Path) -> None:
    project = tmp_path / "project"
    run = converted_copy("neutral", project)
    for relative in corpus_files():
        assert (project / relative).read_text() == (EXPECTED / "neutral" / relative).read_text()
    dry = migrate([CORPUS / "billing"], "neutral")
    assert "+@task(" in dry.diff()
    assert "-@app.task" in dry.diff()
    assert run.report.files == len(corpus_files())


def test_every_section_a_finding_links_to_is_a_heading_of_the_guide() -> None:
    guide = (CORPUS.parents[2] / GUIDE).read_text()
    headings = {re.sub(r"[^a-z0-9 -]", "", h.lower()).strip().replace(" ", "-")
                for h in re.findall(r"^#+ (.+)$", guide, re.M)}  # fmt: skip
    assert set(SECTIONS) <= headings
    report = _dry_run("neutral").report
    assert {f.section for f in report.findings + report.unparsable} <= set(SECTIONS)


def test_an_output_that_would_not_compile_is_reported_and_never_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = tmp_path / "project"
    shutil.copytree(CORPUS / "accounts", project / "accounts")
    original = (project / "accounts/tasks.py").read_text()

    def broken(mode: Mode, project_: Project, info: FileInfo, report: Report) -> str:
        return info.source.text + "\ndef (:\n"

    monkeypatch.setattr("lexigram_compat.migrate.runner._transform", broken)
    run = migrate([project], "shims")
    assert run.write() == []
    assert (project / "accounts/tasks.py").read_text() == original
    problems = {Path(f.path).name: f.construct for f in run.report.unparsable}
    assert "would not compile" in problems["tasks.py"]


def test_an_option_the_shim_learns_later_is_reported_not_dropped(monkeypatch: pytest.MonkeyPatch) -> None:
    from lexigram_compat.celery import options
    from lexigram_compat.migrate import definitions

    monkeypatch.setattr(definitions, "TASK_OPTIONS", (*options.TASK_OPTIONS, "some_new_option"))
    module = cst.parse_module("@shared_task(some_new_option=1, queue='q')\ndef f():\n    pass\n")
    function = module.body[0]
    assert isinstance(function, cst.FunctionDef)
    plan = definitions.plan_definition(function.decorators[0], module, retries_itself=False)
    assert plan.decorator is None
    assert [problem[0] for problem in plan.problems] == ["some_new_option="]
