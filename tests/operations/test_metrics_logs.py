"""``/metrics`` and JSON log lines from each engine's real native worker, in a
subprocess, on every engine x broker pair: after jobs that succeed, are
retried and are dead-lettered, a scrape shows exactly those counts under the
shared names; every job line is one JSON object with the job's fields, and no
line shows a secret (an error's URL password, the PostgreSQL DSN's password,
the AMQP URL's)."""

from __future__ import annotations

import json
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.operations.conftest import PG_PASSWORD, Ops, Proc
from tests.operations.ops_app import APP, MEMORY, SEED_ENV
from tests.operations.test_cli_engines import poll
from tests.ports import free_port

SECRET = "hunter2-in-an-error"
FAILING_REASON = f"could not reach redis://ops:{SECRET}@cache.internal:6379/0"
ENGINES = ["postgres", "celery-redis", "dramatiq-redis", "celery-rabbitmq", "dramatiq-rabbitmq"]

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(port: int) -> Samples:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as response:
        text = response.read().decode()
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return samples


def value(samples: Samples, name: str, **labels: str) -> float:
    """Sum of ``name``'s samples whose labels include ``labels``."""
    wanted = set(labels.items())
    return sum(v for (n, ls), v in samples.items() if n == name and wanted <= ls)


def run_jobs(ops: Ops, adds: int) -> None:
    for n in range(adds):
        ops.cli("enqueue", APP, "ops.add", "--args", f"[{n}, 1]")
    ops.cli("enqueue", APP, "ops.fail", "--kwargs", json.dumps({"reason": FAILING_REASON}))


def wait_scrape(port: int, proc: Proc, what: str, ok: Callable[[Samples], bool]) -> Samples:
    deadline = time.monotonic() + 60
    last: Samples = {}
    while time.monotonic() < deadline:
        if proc.process.poll() is not None:
            pytest.fail(f"worker exited ({proc.process.returncode}); output:\n{proc.log[-4000:]}")
        try:
            last = scrape(port)
        except OSError:
            time.sleep(0.2)
            continue
        if ok(last):
            return last
        time.sleep(0.2)
    shown = "\n".join(
        f"{n} {dict(ls)} {v}" for (n, ls), v in sorted(last.items()) if n.startswith("lexigram")
    )
    pytest.fail(f"no scrape with {what} within 60s; last lexigram samples:\n{shown}\n{proc.log[-3000:]}")


def check_counts(samples: Samples, engine: str, adds: int) -> None:
    on = {"engine": engine}
    assert value(samples, "lexigram_tasks_started_total", task="ops.add", **on) == adds
    assert value(samples, "lexigram_tasks_succeeded_total", task="ops.add", **on) == adds
    assert value(samples, "lexigram_tasks_started_total", task="ops.fail", **on) == 2
    assert value(samples, "lexigram_tasks_retried_total", task="ops.fail", **on) == 1
    assert value(samples, "lexigram_tasks_dead_lettered_total", task="ops.fail", **on) == 1
    assert value(samples, "lexigram_tasks_failed_total", task="ops.fail", **on) == 2
    assert value(samples, "lexigram_tasks_succeeded_total", task="ops.fail", **on) == 0
    assert value(samples, "lexigram_task_attempt_duration_seconds_count", task="ops.add", **on) == adds
    assert value(samples, "lexigram_task_attempt_duration_seconds_count", task="ops.fail", **on) == 2
    assert value(samples, "lexigram_task_queue_wait_seconds_count", task="ops.add", **on) == adds
    assert value(samples, "lexigram_task_queue_wait_seconds_count", task="ops.fail", **on) == 2
    assert value(samples, "lexigram_dead_letters", backend="default", **on) == 1
    assert value(samples, "lexigram_queue_in_flight", **on) == 0
    assert value(samples, "lexigram_worker_busy_slots", **on) == 0


URL_SECRETS = (SECRET, PG_PASSWORD, ":guest@")
"""The error's password, the PostgreSQL DSN's and the AMQP URL's (``guest:guest``)."""
JOB_FIELDS = {"time", "level", "logger", "message", "event", "job_id", "task", "queue", "attempt", "engine"}


def check_json_lines(
    output: str, engine: str, adds: int, error: str = "redis://ops:***@cache.internal"
) -> None:
    for line in output.splitlines():
        assert not any(secret in line for secret in URL_SECRETS), line
    jobs = [json.loads(line) for line in output.splitlines() if line.startswith("{") and '"job_id"' in line]
    outcomes = [(j["task"], j["outcome"]) for j in jobs if "outcome" in j]
    assert sorted(outcomes) == sorted(
        [("ops.add", "succeeded")] * adds + [("ops.fail", "retried"), ("ops.fail", "dead_lettered")]
    )
    assert sorted(j["task"] for j in jobs if j["event"] == "started") == ["ops.add"] * adds + ["ops.fail"] * 2
    for line in jobs:
        assert set(line) >= JOB_FIELDS, line
        assert line["engine"] == engine
        assert isinstance(line["attempt"], int)
        assert "args" not in line
        assert "kwargs" not in line
    for line in (j for j in jobs if "outcome" in j):
        assert isinstance(line["duration"], float), line
        assert ("error_type" in line) == (line["outcome"] != "succeeded"), line
    retried = next(j for j in jobs if j.get("outcome") == "retried")
    assert (retried["error_type"], retried["attempt"]) == ("RuntimeError", 1)
    dead = next(j for j in jobs if j.get("outcome") == "dead_lettered")
    assert (dead["error_type"], dead["attempt"]) == ("RuntimeError", 2)
    assert error in dead["error"]


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_native_worker_metrics_and_json_logs(
    engine: str, request: pytest.FixtureRequest, ops_factory: Callable[[dict[str, Any]], Ops]
) -> None:
    section = request.getfixturevalue(engine.replace("-", "_") + "_section")
    ops = ops_factory({**section, "logging": {"format": "json"}})
    port = free_port()
    worker = ops.worker("--metrics-port", str(port))
    poll("the worker to be listed", lambda: ops.cli_json("workers", APP)["workers"])
    run_jobs(ops, adds=3)
    samples = wait_scrape(
        port,
        worker,
        "the dead letter counted",
        lambda s: (
            value(s, "lexigram_dead_letters") == 1 and value(s, "lexigram_tasks_dead_lettered_total") == 1
        ),
    )
    check_counts(samples, engine, adds=3)
    assert value(samples, "lexigram_worker_up", engine=engine) >= 1
    assert value(samples, "lexigram_queue_depth", engine=engine) == 0
    assert worker.stop() == 0
    check_json_lines(worker.log, engine, adds=3)


def test_memory_worker_counts_enqueues_in_its_own_process_and_logs_json(
    ops_factory: Callable[[dict[str, Any]], Ops], tmp_path: Path
) -> None:
    ops = ops_factory({**MEMORY, "logging": {"format": "json"}})
    port = free_port()
    worker = ops.worker("--metrics-port", str(port), env={SEED_ENV: str(tmp_path / "never")})
    samples = wait_scrape(
        port, worker, "the seeded dead letter", lambda s: value(s, "lexigram_tasks_dead_lettered_total") == 1
    )
    check_counts(samples, "memory", adds=3)
    assert value(samples, "lexigram_tasks_enqueued_total", task="ops.add", engine="memory") == 4
    assert value(samples, "lexigram_queue_scheduled", queue="tasks", engine="memory") == 1
    assert value(samples, "lexigram_worker_up", engine="memory") == 1
    assert value(samples, "lexigram_worker_slots", engine="memory") == 10
    assert worker.stop() == 0
    check_json_lines(worker.log, "memory", adds=3, error="ops failed: seeded")


@pytest.mark.parametrize("multi", ["postgres", "dramatiq-redis"])
def test_a_multi_process_worker_scrape_sums_its_processes(
    multi: str, request: pytest.FixtureRequest, ops_factory: Callable[[dict[str, Any]], Ops], tmp_path: Path
) -> None:
    ops = ops_factory(request.getfixturevalue(multi.replace("-", "_") + "_section"))
    port = free_port()
    worker = ops.worker("--processes", "2", "--concurrency", "1", "--metrics-port", str(port))
    poll("two worker processes", lambda: len(ops.cli_json("workers", APP)["workers"]) == 2)
    slow = tmp_path / "slow"
    slow.mkdir()
    # Two per process: both processes must run jobs, even when each prefetches
    # two messages (Dramatiq's default for one thread).
    for _ in range(4):
        ops.cli("enqueue", APP, "ops.slow", "--args", json.dumps([str(slow)]))
    poll("both processes to run a slow job", lambda: len(list(slow.glob("started-*"))) == 2)
    (slow / "release").write_text("")
    run_jobs(ops, adds=4)
    samples = wait_scrape(
        port,
        worker,
        "every job counted",
        lambda s: (
            value(s, "lexigram_tasks_dead_lettered_total") == 1
            and value(s, "lexigram_tasks_succeeded_total") == 8
        ),
    )
    check_counts(samples, multi, adds=4)
    assert value(samples, "lexigram_tasks_succeeded_total", task="ops.slow") == 4
    assert value(samples, "lexigram_worker_up", engine=multi) == 2
    assert value(samples, "lexigram_worker_slots", engine=multi) == 2
    # Each process counted its own jobs: the sum holds only across both processes' files.
    pids = {p.name.split("-", 1)[1] for p in slow.glob("started-*")}
    assert len(pids) == 2
