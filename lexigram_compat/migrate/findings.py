"""What a migration run found: each construct it left (or converted with a caveat), with
``file:line``, the construct, the manual step and the guide's section; and the counts of
definitions, call sites and schedules found / converted / left."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

__all__ = ["GUIDE", "SECTIONS", "Counts", "Finding", "Kind", "Report", "Summary"]

GUIDE = "migration_guide/README.md"
"""The runbook every manual step links to (``GUIDE#section``)."""

SECTIONS = (
    "imports", "app-construction", "option-mapping", "options-celery-ignores", "bound-tasks", "time-limits",
    "call-sites", "tasks-chosen-at-run-time", "canvas", "results", "remote-control", "beat-schedules",
    "django-celery-beat", "testing", "idempotency", "unparsable-files",
)  # fmt: skip
"""The guide's sections a finding may link to (each a heading of ``GUIDE``; a test holds them)."""

Kind = Literal["definition", "call", "schedule", "import", "other"]


@dataclass(frozen=True)
class Finding:
    """One construct the codemod did not convert (``converted=False``), or converted with a
    difference the team must check (``converted=True``: a note).

    Attributes:
        path: The file, as given on the command line (joined with the walk below it).
        line: The 1-based line of the construct in the original file.
        kind: What it is counted as: a task definition, a call site, a beat schedule, ...
        construct: The construct, short (``chord(...)``, ``@app.task(base=...)``).
        step: What to do by hand.
        section: The guide's section anchor that explains it (``GUIDE#section``).
        converted: Whether the construct was converted (the finding is then a note).
    """

    path: str
    line: int
    kind: Kind
    construct: str
    step: str
    section: str
    converted: bool = False

    @property
    def link(self) -> str:
        return f"{GUIDE}#{self.section}"

    def as_json(self) -> dict[str, Any]:
        return {**asdict(self), "link": self.link}


@dataclass
class Counts:
    """Found / converted / left for one kind of construct."""

    found: int = 0
    converted: int = 0

    @property
    def left(self) -> int:
        return self.found - self.converted

    @property
    def percent(self) -> float:
        """The share converted (100 when there was nothing to convert)."""
        return 100.0 if self.found == 0 else 100.0 * self.converted / self.found

    def add(self, converted: bool) -> None:
        self.found += 1
        self.converted += int(converted)


@dataclass
class Summary:
    """The three counts the report ends with."""

    definitions: Counts = field(default_factory=Counts)
    calls: Counts = field(default_factory=Counts)
    schedules: Counts = field(default_factory=Counts)

    def as_json(self) -> dict[str, Any]:
        return {
            name: {"found": c.found, "converted": c.converted, "left": c.left, "percent": round(c.percent, 1)}
            for name, c in (
                ("definitions", self.definitions),
                ("call_sites", self.calls),
                ("schedules", self.schedules),
            )
        }


@dataclass
class Report:
    """Everything one run of ``migrate celery`` found, in file and line order."""

    mode: str
    findings: list[Finding] = field(default_factory=list)
    summary: Summary = field(default_factory=Summary)
    changed: list[str] = field(default_factory=list)
    unparsable: list[Finding] = field(default_factory=list)
    files: int = 0

    def add(self, findings: Iterable[Finding]) -> None:
        self.findings.extend(findings)

    def sorted_findings(self) -> list[Finding]:
        return sorted(self.findings, key=lambda f: (f.path, f.line, f.construct))

    def left(self) -> list[Finding]:
        return [f for f in self.sorted_findings() if not f.converted]

    def notes(self) -> list[Finding]:
        return [f for f in self.sorted_findings() if f.converted]

    def as_json(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "files": self.files,
            "changed": sorted(self.changed),
            "unparsable": [f.as_json() for f in self.unparsable],
            "left": [f.as_json() for f in self.left()],
            "notes": [f.as_json() for f in self.notes()],
            "summary": self.summary.as_json(),
        }

    def as_text(self) -> str:
        lines = [
            f"lexigram-compat migrate celery --to {self.mode}: {self.files} files, "
            f"{len(self.changed)} changed"
        ]
        for title, items in (
            ("Could not parse (left untouched)", self.unparsable),
            ("Not converted (manual step)", self.left()),
            ("Converted, check the difference", self.notes()),
        ):
            if items:
                lines += ["", f"{title}:"]
                lines += [f"  {f.path}:{f.line}: {f.construct}\n      -> {f.step} ({f.link})" for f in items]
        lines += ["", "Summary (found / converted / left):"]
        for name, data in self.summary.as_json().items():
            lines.append(
                f"  {name.replace('_', ' '):12} {data['found']:5} / {data['converted']:5} / "
                f"{data['left']:5}  ({data['percent']:.1f} % converted)"
            )
        return "\n".join(lines) + "\n"
