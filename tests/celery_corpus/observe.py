"""What one corpus module did in one run, in a form two runs can be compared in.

An :class:`Observation` keeps, per module: each scenario handle's ``[state, value]``;
per tag (the part after ``module/``) the events in the order they happened, without
their times; the gaps between a tag's consecutive ``sent``/``run`` events (delays,
checked against bounds, not compared for equality); and, for worker-level tags
(``WORKER_EVENTS``), the set of event names seen: how many processes send a worker
signal depends on the pool (documented: "once in each process that runs jobs").
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from .targets import RunReport

__all__ = ["LATENESS", "TIMED", "Observation", "expectation_problems", "observe"]

LATENESS = 2.0
"""Seconds a due job may start late on a loaded machine (as tests/conformance/harness.py)."""
EARLY = 0.01
"""Seconds a job may appear to start early: its timestamps come from two clocks read in
two processes (the sender's and the worker's ``time.time()``)."""
TIMED = ("sent", "run")
"""The events whose gaps are delays."""


@dataclass
class Observation:
    handles: dict[str, list[Any]]
    events: dict[str, list[list[Any]]]
    worker_events: dict[str, list[str]]
    gaps: dict[str, list[float]]
    error: str | None
    expect: dict[str, Any]

    def comparable(self) -> dict[str, Any]:
        """Everything but the times: what two runs must agree on."""
        return {"handles": self.handles, "events": self.events, "worker_events": self.worker_events,
                "error": self.error}  # fmt: skip


def observe(report: RunReport, module: str) -> Observation:
    """Module ``module``'s part of ``report``."""
    entry = report.modules[module]
    worker_tags = set(entry["expect"]["WORKER_EVENTS"])
    prefix = f"{module}/"
    mine: dict[str, list[dict[str, Any]]] = {}
    for event in report.events:
        tag = str(event["tag"])  # a task given its arguments in another order records another tag
        if tag.startswith(prefix):
            mine.setdefault(tag[len(prefix) :], []).append(event)
    events: dict[str, list[list[Any]]] = {}
    worker_events: dict[str, list[str]] = {}
    gaps: dict[str, list[float]] = {}
    for tag, found in sorted(mine.items()):
        found.sort(key=lambda e: e["t"])
        if tag in worker_tags:
            worker_events[tag] = sorted({e["ev"] for e in found})
            continue
        events[tag] = [[e["ev"], {k: v for k, v in e.items() if k not in {"tag", "ev", "t"}}] for e in found]
        times = [e["t"] for e in found if e["ev"] in TIMED]
        gaps[tag] = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    return Observation(entry["handles"], events, worker_events, gaps, entry["error"], entry["expect"])


def expectation_problems(seen: Observation) -> list[str]:
    """How ``seen`` departs from its module's own description (results, attempts, delays
    within their bounds from both sides, spans from a tag's first timed event to its last,
    worker events); empty when it does not."""
    problems: list[str] = []
    expect = seen.expect
    if seen.error:
        problems.append(f"scenario() raised:\n{seen.error}")
    if seen.handles != expect["EXPECT"]:
        problems.append(f"results {seen.handles} != expected {expect['EXPECT']}")
    attempts = {
        tag: sum(1 for ev, _ in seen.events.get(tag, []) if ev == "run") for tag in expect["ATTEMPTS"]
    }
    if attempts != expect["ATTEMPTS"]:
        problems.append(f"attempts {attempts} != expected {expect['ATTEMPTS']}")
    for tag, bounds in expect["DELAYS"].items():
        gaps = seen.gaps.get(tag, [])
        if len(gaps) != len(bounds):
            problems.append(f"{tag}: {len(gaps)} delays {gaps}, expected {len(bounds)} within {bounds}")
            continue
        for gap, (low, high) in zip(gaps, bounds, strict=True):
            if not low - EARLY <= gap <= high + LATENESS:
                problems.append(f"{tag}: waited {gap}s, outside [{low}, {high}] (+{LATENESS}s lateness)")
    for tag, (low, high) in expect["SPANS"].items():
        gaps = seen.gaps.get(tag, [])
        span = round(sum(gaps), 3)
        if not gaps or not low - EARLY <= span <= high + LATENESS:
            problems.append(
                f"{tag}: first to last start took {span}s, outside [{low}, {high}] (+{LATENESS}s)"
            )
    if seen.worker_events != expect["WORKER_EVENTS"]:
        problems.append(f"worker events {seen.worker_events} != expected {expect['WORKER_EVENTS']}")
    return problems
