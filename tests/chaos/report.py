"""What one fault-injection run of one pair found, its table, and the issue's guarantees.

The checker is Jepsen-style: every enqueue's answer (``Ok`` id, or ``Err`` type),
every execution from the ledger outside the broker (job id, attempt, pid), and
every job's final record and dead letter are compared after the run.
"""

from __future__ import annotations

import itertools
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lexigram_compat import JobStatus

from .jobs import LedgerLine

__all__ = ["ACTIVE", "ALLOWED_UNKNOWN", "UNAVAILABLE", "Report", "classify", "table"]

UNAVAILABLE = "BrokerUnavailableError"
"""An ``Err`` allowed only when no job was written."""
ALLOWED_UNKNOWN = "EnqueueOutcomeUnknownError"
"""The distinct "outcome unknown" error (issue 14, finding 7): allowed whether or not the job exists."""
UNDECODABLE_REASON = "could not be decoded"
ACTIVE = {JobStatus.PENDING.value, JobStatus.RUNNING.value, JobStatus.RETRYING.value}
"""Record statuses of a job not finished: after the run, a record left so is stuck."""


@dataclass
class Report:
    pair: str
    jobs: int = 0
    ok: int = 0
    errs: Counter[str] = field(default_factory=Counter)
    err_written: list[str] = field(default_factory=list)
    """Job ids whose enqueue answered ``BrokerUnavailableError`` (or another plain Err)
    although the job was written (it ran, or has a record)."""
    completed: int = 0
    lost: list[str] = field(default_factory=list)
    """``Ok`` jobs whose body never finished and that were not dead-lettered."""
    dead_good: dict[str, str] = field(default_factory=dict)
    """``Ok`` jobs that were dead-lettered (job id -> error type: message)."""
    dup_same: list[str] = field(default_factory=list)
    dup_higher: int = 0
    stuck: Counter[str] = field(default_factory=Counter)
    """Final record status of ``Ok`` jobs left pending/running/retrying (status -> count)."""
    stuck_ids: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    """Job ids that ran although no enqueue of this run named them."""
    longest_pause: float = 0.0
    """Longest time between two completions (outages included): a consumer that stalls shows here."""
    kills: int = 0
    sigterms: int = 0
    sigterm_codes: list[int] = field(default_factory=list)
    crashes: Counter[str] = field(default_factory=Counter)
    worker_exits: list[str] = field(default_factory=list)
    """Exits of the native worker nobody asked for (exit code and the log's last line)."""
    bad_sent: list[str] = field(default_factory=list)
    bad_letters: list[str] = field(default_factory=list)
    """Dead letters of no enqueued job (the bad input's): ``type: message``."""
    bad_sent_at: float | None = None
    settled: bool = False
    seconds: float = 0.0
    notes: list[str] = field(default_factory=list)
    error: str | None = None
    """The run itself broke (a server that did not come back...): no verdict on the engine."""

    # -- the guarantees ------------------------------------------------------------
    def failures(self) -> list[str]:
        """Must show 1 (and 2 when bad input was sent): each broken guarantee, with evidence."""
        found: list[str] = []
        if self.error is not None:
            found.append(f"the run broke: {self.error}")
        if self.lost:
            found.append(f"lost {len(self.lost)} Ok job(s), e.g. {self.lost[:3]}")
        if self.dead_good:
            sample = list(self.dead_good.items())[:2]
            found.append(
                f"dead-lettered {len(self.dead_good)} healthy Ok job(s) (never completed), e.g. {sample}"
            )
        if self.stuck:
            found.append(f"records left {dict(self.stuck)} after the run, e.g. {self.stuck_ids[:3]}")
        if self.dup_same:
            found.append(f"{len(self.dup_same)} same-attempt duplicate(s), e.g. {self.dup_same[:3]}")
        wrong = {k: v for k, v in self.errs.items() if k not in (UNAVAILABLE, ALLOWED_UNKNOWN)}
        if wrong:
            found.append(f"Err of types other than {UNAVAILABLE}/{ALLOWED_UNKNOWN}: {wrong}")
        if self.err_written:
            found.append(
                f"{len(self.err_written)} Err answer(s) although the job was written, "
                f"e.g. {self.err_written[:3]}"
            )
        if self.unexpected:
            found.append(
                f"{len(self.unexpected)} job(s) ran that nobody enqueued, e.g. {self.unexpected[:3]}"
            )
        unclean = [code for code in self.sigterm_codes if code != 0]
        if unclean:
            found.append(f"the worker's exit code after SIGTERM was {unclean} (expected 0)")
        found.extend(self.bad_input_failures())
        if not self.settled and not found:
            found.append("the run did not settle within its bound")
        return found

    def bad_input_failures(self) -> list[str]:
        found: list[str] = []
        if self.worker_exits:
            found.append(
                f"the native worker exited on its own {len(self.worker_exits)} time(s): "
                f"{self.worker_exits[:3]}"
            )
        if len(self.bad_letters) < len(self.bad_sent):
            found.append(
                f"bad input: {len(self.bad_sent)} sent ({', '.join(self.bad_sent)}), "
                f"only {len(self.bad_letters)} dead-lettered: {self.bad_letters}"
            )
        unnamed = [letter for letter in self.bad_letters if UNDECODABLE_REASON not in letter]
        if unnamed:
            found.append(f"bad input dead-lettered without a reason naming it: {unnamed[:3]}")
        return found

    def rows(self) -> list[tuple[str, str]]:
        errs = ", ".join(f"{k} {v}" for k, v in sorted(self.errs.items())) or "0"
        return [
            ("jobs enqueued", str(self.jobs)),
            ("  Ok", str(self.ok)),
            ("  Err by type", errs),
            ("  Err although written", str(len(self.err_written))),
            ("completed", str(self.completed)),
            ("lost (Ok, never completed)", str(len(self.lost) + len(self.dead_good))),
            ("  of which dead-lettered", str(len(self.dead_good))),
            ("duplicates, same attempt", str(len(self.dup_same))),
            ("duplicates, higher attempt", str(self.dup_higher)),
            ("records left pending/running", str(sum(self.stuck.values()))),
            ("dead letters, bad input", f"{len(self.bad_letters)} of {len(self.bad_sent)} sent"),
            ("unexpected executions", str(len(self.unexpected))),
            ("longest pause in completions", f"{self.longest_pause:.1f} s"),
            ("worker SIGKILLs / SIGTERMs", f"{self.kills} / {self.sigterms}"),
            ("broker crashes", ", ".join(f"{k} {v}" for k, v in sorted(self.crashes.items())) or "0"),
            ("worker exits on its own", str(len(self.worker_exits))),
            ("seconds", f"{self.seconds:.0f}"),
            ("verdict", "PASS" if not self.failures() else "FAIL"),
        ]


def classify(
    report: Report,
    *,
    ok: Iterable[str],
    err: Mapping[str, str],
    ledger: Iterable[LedgerLine],
    letters: Mapping[str, str],
    statuses: Mapping[str, str],
) -> None:
    """Fill ``report`` from a run's evidence: the ``Ok`` job ids, the ``Err`` type per job id
    tried, the ledger's lines, the dead letters (job id -> ``type: message``) and each
    job's final record status (``"none"`` without a record)."""
    ok = list(ok)
    report.ok = len(ok)
    report.errs.update(err.values())
    runs: dict[str, list[int]] = defaultdict(list)
    finished: list[float] = []
    for line in ledger:
        if line.kind == "D":
            runs[line.job_id].append(line.attempt)
            finished.append(line.at)
    finished.sort()
    report.longest_pause = max((b - a for a, b in itertools.pairwise(finished)), default=0.0)
    for job in ok:
        attempts = runs.get(job, [])
        if attempts:
            report.completed += 1
        elif job in letters:
            report.dead_good[job] = letters[job]
        else:
            report.lost.append(job)
        if len(attempts) != len(set(attempts)):
            report.dup_same.append(f"{job} attempts {sorted(attempts)}")
        elif len(attempts) > 1:
            report.dup_higher += 1
        if statuses.get(job) in ACTIVE:
            report.stuck[statuses[job]] += 1
            report.stuck_ids.append(job)
    for job, kind in err.items():
        status = statuses.get(job, "none")
        recorded = status != "none" and not status.startswith("unreadable")
        if kind != ALLOWED_UNKNOWN and (job in runs or recorded):
            report.err_written.append(f"{job} ({kind}; record {status}; ran {len(runs.get(job, []))}x)")
    known = set(ok) | set(err)
    report.unexpected = sorted(job for job in runs if job not in known)
    report.bad_letters = [text for job, text in letters.items() if job not in known]


def table(reports: list[Report]) -> str:
    """The reports side by side, one column per pair, then each failure spelled out."""
    if not reports:
        return "(no pair ran)"
    labels = [label for label, _ in reports[0].rows()]
    columns = [[value for _, value in report.rows()] for report in reports]
    heads = [report.pair for report in reports]
    width0 = max(len(label) for label in labels)
    widths = [max(len(head), *(len(v) for v in column)) for head, column in zip(heads, columns, strict=True)]
    lines = [
        " | ".join([" " * width0, *(h.rjust(w) for h, w in zip(heads, widths, strict=True))]),
        "-+-".join(["-" * width0, *("-" * w for w in widths)]),
    ]
    for i, label in enumerate(labels):
        values = [column[i].rjust(w) for column, w in zip(columns, widths, strict=True)]
        lines.append(" | ".join([label.ljust(width0), *values]))
    for report in reports:
        for failure in report.failures():
            lines.append(f"FAIL {report.pair}: {failure}")
        for note in report.notes:
            lines.append(f"note {report.pair}: {note}")
        for letter in report.bad_letters:
            lines.append(f"bad-input letter {report.pair}: {letter}")
    return "\n".join(lines)
