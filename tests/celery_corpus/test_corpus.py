"""Issue 10, must-show 1: Celery task modules run unchanged on real Celery and on
``lexigram_compat.celery``, and behave the same.

``proj/`` is a Django-style project of Celery task modules written against
``celery`` (``m*.py``: option combinations, bound tasks with ``self.retry``,
autoretry with backoff and jitter, stacked decorators, ``shared_task``, beat dicts,
signal handlers, call sites in loops and in ``on_commit`` callbacks, tasks chosen
at run time, ``ignore_result``, ``throws``, ``name=``, ``headers=``,
``countdown``/``eta``, queue routing). Each module has a ``scenario()`` (the calls it
makes) and its own description of what should happen (``EXPECT``, ``ATTEMPTS``,
``DELAYS``, ``WORKER_EVENTS``); its tasks and handlers record what happened to a
sink outside the broker (``sink.py``).

Each target runs the whole corpus once, with one worker serving every module
(``targets.py``): real Celery (``celery worker``, RabbitMQ, Redis results), and the
project materialised with only its Celery import lines swapped to
``lexigram_compat.celery`` on memory, postgres, dramatiq-redis and celery-rabbitmq,
each with its native worker. Then one test per module and target:

- on real Celery, the module does what it describes (this checks the corpus);
- on each shim target, the module does what it describes, and what it did equals
  what it did on real Celery: results, final states, attempts, the events of every
  task and signal handler in order; delays within their bounds on both runs.

Issue 11, must-show 2: the same project converted by the codemod itself
(``lexigram-compat migrate celery proj --to neutral --write``: ``@task``, ``JobContext``,
``raise Retry``, explicit enqueues; what it leaves stays on the shim, reported) runs on
memory and postgres with their native workers (``neutral-memory``, ``neutral-postgres``),
and each module must do what it did on real Celery, compared the same way. A converted
scenario returns ``Result``s where it returned ``AsyncResult``s: the driver reads both
through the job record (:func:`~.driver.readable`). Modules whose conversion is a manual step
the codemod reports are left out of these two targets, each named with its reason in
:data:`NEUTRAL_LEFT_OUT` (and checked to be reported).

Documented differences between Celery and the shim, or the converted code, are translated
explicitly in :func:`as_celery_shows`, never by loosening a comparison.

Every target runs once per session, all side by side (:func:`runs`), whichever xdist
worker asks first; the others read the saved reports. (The corpus does not rely on its
``xdist_group``: with pytest 9 and pytest-xdist 3.8, ``--dist loadgroup`` does not group,
as xdist sets ``item._nodeid`` and pytest 9 reads ``item._id``.)
"""

from __future__ import annotations

import copy
import fcntl
import os
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from lexigram_compat.migrate.runner import migrate
from tests.services import Service

from .materialise import PROJECT
from .observe import Observation, expectation_problems, observe
from .targets import FLAVOURS, REAL, TARGETS, RunReport, run_target

PENDING_FEATURES: dict[str, str] = {}
"""Corpus modules of shim features being built on other branches, by module name with the
reason: not part of the corpus (on any target) until their feature lands; enabling one is
deleting its line. Empty: p01-p05 (expires, compression, rate_limit, soft_time_limit, base=)
waited here until issue-10opts and issue-10soft landed."""

MODULES = sorted(path.stem for path in PROJECT.glob("[mp][0-9][0-9]_*.py"))
CORPUS = [name for name in MODULES if name not in PENDING_FEATURES]

NEUTRAL_LEFT_OUT: dict[str, str] = {
    "m52_eager_apply": "eager .apply() of a task the codemod converts: a manual step it reports "
    "(migration_guide/README.md#testing): the neutral @task has no .apply; the test moves to memory",
    "m53_mock_patch_delay": "mock.patch('...send_sms.delay') of a task the codemod converts: a manual step "
    "it reports (migration_guide/README.md#testing): the neutral @task has no .delay to patch",
}
"""Corpus modules the neutral targets do not run, by name with the reason: the codemod converts
their tasks and reports the test construct that then needs a hand (a test checks it does)."""
NEUTRAL_CORPUS = [name for name in CORPUS if name not in NEUTRAL_LEFT_OUT]


def modules_of(target: str) -> list[str]:
    """The corpus modules ``target`` runs."""
    return NEUTRAL_CORPUS if FLAVOURS[target] == "neutral" else CORPUS


REAL_APP = "celery.app.base.Celery"
SHIM_APP = "lexigram_compat.celery.app.Celery"

_runs: dict[str, RunReport | str] = {}
"""Each target's report, or why its run failed (its tests fail with that; the others go on)."""


def _shared_dir(factory: pytest.TempPathFactory) -> Path:
    """A directory every xdist worker of this session sees (the base temp's parent
    under xdist, the base temp itself in a serial run)."""
    base = factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(scope="session")
def corpus_services(
    postgres_service: Service, redis_service: Service, rabbitmq_service: Service
) -> dict[str, str]:
    return {"postgres": postgres_service.url, "redis": redis_service.url, "rabbitmq": rabbitmq_service.url}


def runs(factory: pytest.TempPathFactory, services: dict[str, str]) -> dict[str, RunReport | str]:
    """Every target's run of the corpus, made once per session, the targets side by side
    (each run is mostly waiting: countdowns, retries, the quiet period).

    The first test to ask makes them under a file lock; a test in another xdist worker
    waits for it and reads the saved reports, so each target runs once however the
    tests are distributed."""
    if not _runs:
        shared = _shared_dir(factory)
        with (shared / "celery-corpus.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # stdlib: no file-lock library is a dependency
            try:
                saved = {key: shared / f"celery-corpus-{key}.json" for key in TARGETS}
                failed = {key: shared / f"celery-corpus-{key}.error" for key in TARGETS}
                if not all(saved[key].exists() or failed[key].exists() for key in TARGETS):
                    _run_all(shared, services, saved, failed)
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)
        for key in TARGETS:
            path = saved[key]
            _runs[key] = RunReport.from_json(path.read_text()) if path.exists() else failed[key].read_text()
    return _runs


def _run_all(shared: Path, services: dict[str, str], saved: dict[str, Path], failed: dict[str, Path]) -> None:
    with ThreadPoolExecutor(len(TARGETS)) as pool:
        futures = {
            key: pool.submit(run_target, key, shared / f"corpus-{key}", modules_of(key), services)
            for key in TARGETS
        }
        for key, future in futures.items():
            try:
                saved[key].write_text(future.result().to_json())
            except Exception:
                failed[key].write_text(traceback.format_exc())


def report_of(every: dict[str, RunReport | str], target: str) -> RunReport:
    found = every[target]
    if isinstance(found, str):
        pytest.fail(f"the corpus run on {target} failed:\n{found}")
    return found


def as_celery_shows(module: str, seen: Observation, target: str) -> Observation:
    """The shim's (or the converted project's) observation with each documented difference
    from Celery translated to what Celery shows, one named rule each (docs/engines/celery.md,
    migration_guide/README.md)."""
    shown = copy.deepcopy(seen)
    if FLAVOURS[target] == "neutral":
        _as_celery_shows_converted(module, shown)
    for name, (state, value) in list(shown.handles.items()):
        if module == "m22_ignore_result" and [state, value] == ["SUCCESS", None]:
            # ignore_result: Celery stores nothing, so AsyncResult stays PENDING forever;
            # the shim's job record completes with result None (option mapping table).
            shown.handles[name] = ["PENDING", None]
        if module == "m23_time_limit" and state == "FAILURE" and value[0] == "TaskTimeoutError":
            # time_limit: Celery's pool kills the child (billiard's TimeLimitExceeded);
            # the shim fails the attempt with TaskTimeoutError (option mapping table).
            assert value[1].endswith("ran past its timeout of 1s"), value
            shown.handles[name] = ["FAILURE", ["TimeLimitExceeded", "TimeLimitExceeded(1,)"]]
    for name, (state, value) in list(shown.handles.items()):
        if module == "p01_expires" and state == "FAILURE" and value[0] == "JobExpiredError":
            # expires: Celery revokes a task that expired before it started (REVOKED); the
            # shim records it as a dead letter with JobExpiredError (FAILURE) and sends
            # task_failure (the expires row of the option mapping table).
            assert value[1].startswith("job <id> (proj.p01_expires.fresh_only) expired at "), value
            shown.handles[name] = ["REVOKED", None]
    if module == "m23_time_limit":
        # time_limit on a sync task: its thread cannot be killed, so it runs on to the
        # end (the "slept" event) with its result discarded; Celery kills the process.
        for tag, events in shown.events.items():
            assert events[-1][0] == "slept", events
            shown.events[tag] = events[:-1]
    return shown


def _as_celery_shows_converted(module: str, shown: Observation) -> None:
    """The differences the codemod's conversion makes, each one it names (a note in its report,
    or the guide's option mapping), translated to what Celery shows."""
    for name, (state, value) in list(shown.handles.items()):
        if module == "m22_ignore_result" and state == "SUCCESS":
            # ignore_result=True is dropped with a note: the neutral @task keeps its return value
            # in the job record (return None to store nothing); Celery keeps nothing (PENDING).
            assert value == "touched k1", value
            shown.handles[name] = ["PENDING", None]
        if module == "m11_retry_without_exc" and [state, value] == [
            "FAILURE",
            ["Retry", "task asked for a retry"],
        ]:
            # raise self.retry() with no exc= became raise Retry(): once the attempts run out the
            # dead letter is the Retry itself, where Celery raises MaxRetriesExceededError.
            message = (
                "Can't retry proj.m11_retry_without_exc.keep_trying[<id>] "
                "args:('m11_retry_without_exc/a',) kwargs:{}"
            )
            shown.handles[name] = ["FAILURE", ["MaxRetriesExceededError", message]]


def _params() -> Iterator[object]:
    for target in TARGETS:
        for module in modules_of(target):
            yield pytest.param(module, target, id=f"{module}-{target}")


@pytest.mark.xdist_group("celery-corpus")
@pytest.mark.parametrize(("module", "target"), list(_params()))
def test_module_behaves_as_on_celery(
    module: str, target: str, tmp_path_factory: pytest.TempPathFactory, corpus_services: dict[str, str]
) -> None:
    every = runs(tmp_path_factory, corpus_services)
    report = report_of(every, target)
    assert report.app_class == (REAL_APP if target == REAL else SHIM_APP), "the import swap did not happen"
    if report.migration is not None:
        assert _codemod_changed_or_reported(report.migration, module), (
            f"the codemod skipped {module} silently"
        )
    seen = observe(report, module)
    problems = expectation_problems(as_celery_shows(module, seen, target) if target != REAL else seen)
    assert not problems, f"{module} on {target}:\n" + "\n".join(problems) + f"\n{_log(report)}"
    if target != REAL:
        celery = observe(report_of(every, REAL), module)
        assert not expectation_problems(celery), f"{module} misbehaves on real Celery: fix the corpus"
        assert as_celery_shows(module, seen, target).comparable() == celery.comparable(), (
            f"{module}: {FLAVOURS[target]} on {target} differs from real Celery\n{_log(report)}"
        )


def _codemod_changed_or_reported(migration: dict[str, Any], module: str) -> bool:
    """Whether the codemod rewrote ``module`` or reported what it left there."""
    suffix = f"{os.sep}proj{os.sep}{module}.py"
    reported = [finding["path"] for finding in migration["left"]]
    return any(path.endswith(suffix) for path in [*migration["changed"], *reported])


@pytest.mark.parametrize("module", sorted(NEUTRAL_LEFT_OUT))
def test_modules_left_out_of_the_neutral_runs_are_reported_by_the_codemod(module: str) -> None:
    run = migrate([PROJECT / f"{module}.py"], "neutral")
    testing = [f for f in run.report.left() if f.section == "testing"]
    assert testing, (
        f"{module} is left out of the neutral targets, but the codemod reports nothing to do by hand"
    )
    assert all(change.new_text != change.source.text for change in run.changes), (
        "the codemod converted nothing"
    )


def _log(report: RunReport) -> str:
    return f"{report.target} worker log (tail):\n{report.worker_log[-3000:]}"
