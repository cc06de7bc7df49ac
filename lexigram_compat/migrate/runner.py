"""One run of ``migrate celery``: read every file, decide project-wide (first pass), rewrite
each file (second pass), check each output, and build the report."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import libcst as cst

from lexigram_compat.migrate.analysis import FileInfo, Project, analyse
from lexigram_compat.migrate.findings import Finding, Report
from lexigram_compat.migrate.imports import add_imports, drop_unused
from lexigram_compat.migrate.neutral import NeutralTransformer
from lexigram_compat.migrate.shims import ShimTransformer
from lexigram_compat.migrate.sources import SourceFile, discover, output_problem, read, unified_diff

__all__ = ["Change", "Mode", "Run", "migrate"]

Mode = Literal["shims", "neutral"]
_NEUTRAL_IMPORTS = {
    "task": "lexigram_compat",
    "RetryPolicy": "lexigram_compat",
    "JobContext": "lexigram_compat",
    "Retry": "lexigram_compat",
    "scheduled": "lexigram_compat",
    "default_registry": "lexigram_compat",
    "current_app": "lexigram_compat.celery",
    "timedelta": "datetime",
}
_UNUSED_AFTER = (("lexigram_compat.celery", "shared_task"),)


@dataclass
class Change:
    """One file's new text (equal to the old when nothing changed)."""

    source: SourceFile
    new_text: str

    @property
    def changed(self) -> bool:
        return self.new_text != self.source.text

    def diff(self) -> str:
        return unified_diff(self.source, self.new_text)


@dataclass
class Run:
    """The outcome of a run: the changes and the report."""

    report: Report
    changes: list[Change] = field(default_factory=list)

    def diff(self) -> str:
        return "".join(change.diff() for change in self.changes if change.changed)

    def write(self) -> list[Path]:
        """Write every changed file (each was checked to compile); return their paths."""
        written = []
        for change in self.changes:
            if change.changed:
                change.source.path.write_text(change.new_text, encoding="utf-8")
                written.append(change.source.path)
        return written


def _imports(tree: cst.Module, needs: set[str]) -> cst.Module:
    tree = add_imports(tree, {name: _NEUTRAL_IMPORTS[name] for name in needs})
    for module, name in _UNUSED_AFTER:
        tree = drop_unused(tree, module, name)
    return tree


def _transform(mode: Mode, project: Project, info: FileInfo, report: Report) -> str:
    transformer: ShimTransformer
    if mode == "neutral":
        transformer = NeutralTransformer(project, info, report.summary.calls, report.summary.definitions)
    else:
        transformer = ShimTransformer(info.source.shown, info.wrapper.module)
    tree = info.wrapper.visit(transformer)
    if isinstance(transformer, NeutralTransformer) and transformer.needs:
        tree = _imports(tree, transformer.needs)
    report.add(transformer.findings)
    return tree.code


def _count_shims(project: Project, info: FileInfo, report: Report) -> None:
    """``--to shims`` moves a file's definitions and call sites to the shim, except those the
    shim refuses an option of (reported on their line) and those of a file that keeps
    ``import celery``."""
    shown = info.source.shown
    findings = [f for f in report.findings if f.path == shown and not f.converted]
    whole_file = any(f.construct == "import celery" for f in findings)
    refused = {f.line for f in findings if f.kind == "definition"}
    for definition in project.definitions.values():
        if definition.path == shown:
            report.summary.definitions.add(not whole_file and definition.line not in refused)
    calls_left = len({f.line for f in findings if f.kind == "call"})
    found = sum(info.source.text.count(method) for method in (".delay(", ".apply_async("))
    for index in range(found):
        report.summary.calls.add(not whole_file and index >= calls_left)


def migrate(paths: Iterable[str | Path], mode: Mode = "shims") -> Run:
    """Plan the migration of the Celery code under ``paths`` (nothing is written: see
    :meth:`Run.write`)."""
    sources = [read(path, shown) for path, shown in discover(paths)]
    report = Report(mode, files=len(sources))
    for source in sources:
        if source.tree is None:
            report.unparsable.append(
                Finding(
                    source.shown,
                    1,
                    "other",
                    f"cannot parse: {source.error}",
                    "left untouched: fix the syntax, or convert it by hand",
                    "unparsable-files",
                )
            )
    project = analyse(sources)
    run = Run(report)
    for info in project.files.values():
        new_text = _transform(mode, project, info, report)
        if mode == "shims":
            _count_shims(project, info, report)
        problem = output_problem(info.source, new_text) if new_text != info.source.text else None
        if problem is not None:
            report.unparsable.append(
                Finding(
                    info.source.shown,
                    1,
                    "other",
                    problem,
                    "left untouched: please report this file",
                    "unparsable-files",
                )
            )
            new_text = info.source.text
        if new_text != info.source.text:
            report.changed.append(info.source.shown)
        run.changes.append(Change(info.source, new_text))
    if mode == "neutral":
        report.summary.schedules = project.schedules
        report.add(project.findings)
    return run
