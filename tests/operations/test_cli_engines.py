"""``workers``, ``job show|cancel|retry`` and ``queues`` against real worker
processes on PostgreSQL (the native worker) and Celery on Redis (``celery
worker``, listed through remote control), each command a real subprocess."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.operations.conftest import Ops
from tests.operations.ops_app import APP

ENGINES = ["postgres", "celery-redis", "dramatiq-redis"]


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rpartition(")")[2].split()[1])


def poll(what: str, probe: Callable[[], Any], timeout: float = 30.0) -> Any:
    """``probe()`` until it returns something truthy; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s waiting for {what}")
        time.sleep(0.1)


@pytest.fixture(params=ENGINES)
def ops(request: pytest.FixtureRequest, ops_factory: Callable[[dict[str, Any]], Ops]) -> Ops:
    section = request.getfixturevalue(request.param.replace("-", "_") + "_section")
    return ops_factory(section)


def test_workers_job_show_cancel_retry_against_a_live_worker(ops: Ops, tmp_path: Path) -> None:
    worker = ops.worker("--concurrency", "2")
    # Ready when it is listed (its presence record is written once it consumes).
    poll("the worker to be listed", lambda: ops.cli_json("workers", APP)["workers"])

    slow_dir = tmp_path / "slow"
    slow_dir.mkdir()
    slow_id = ops.cli_json("enqueue", APP, "ops.slow", "--args", f'["{slow_dir}"]')["job_id"]
    poll("the slow job to start", lambda: any(slow_dir.glob("started-*")))

    def one_busy() -> dict[str, Any] | None:
        found = ops.cli_json("workers", APP)["workers"]
        return found[0] if len(found) == 1 and found[0]["busy"] == 1 else None

    seen = poll("one live worker with one busy slot", one_busy)
    # The worker itself (native; celery's main process, exec'd) or, for dramatiq, a process it forked.
    assert worker.process.pid in (seen["pid"], parent_pid(seen["pid"]))
    assert seen["slots"] == 2
    assert ops.section["backend"].get("queue_name", "tasks") in seen["queues"]
    table = ops.cli("workers", APP).stdout
    assert "1/2" in table
    assert str(seen["pid"]) in table
    assert ops.cli_json("job", "show", APP, slow_id)["status"] == "running"

    later = ops.cli_json("enqueue", APP, "ops.add", "--args", "[1, 2]", "--delay", "600")["job_id"]
    assert ops.cli_json("job", "cancel", APP, later)["cancelled"] is True
    assert ops.cli_json("job", "show", APP, later)["status"] == "cancelled"
    refused = ops.cli("job", "cancel", APP, slow_id, code=1)
    assert "only a job that has not started can be cancelled" in refused.stderr

    fixed = tmp_path / "fixed"
    kwargs = json.dumps({"reason": "r1", "fixed_when": str(fixed)})
    dead_id = ops.cli_json("enqueue", APP, "ops.fail", "--kwargs", kwargs)["job_id"]
    dead = poll(
        "the failing job to be dead-lettered",
        lambda: (d := ops.cli_json("job", "show", APP, dead_id))["status"] == "failed" and d,
    )
    assert dead["last_error"] == "RuntimeError: ops failed: r1"
    assert dead["history"][-1]["event"] == "dead-lettered"
    fixed.write_text("")
    new_id = ops.cli_json("job", "retry", APP, dead_id)["new_job_id"]
    poll("the retry to complete", lambda: ops.cli_json("job", "show", APP, new_id)["status"] == "completed")
    assert fixed.with_suffix(".ran").read_text() == "r1"

    (slow_dir / "release").write_text("")
    poll("the busy slot to free", lambda: ops.cli_json("workers", APP)["workers"][0]["busy"] == 0)
    assert worker.stop() == 0
    assert ops.cli_json("workers", APP) == {"workers": []}


@pytest.mark.parametrize(
    "backend",
    [
        {"type": "postgres", "postgres_dsn": "postgresql://ops:s3cret-pw@127.0.0.1:1/none"},
        {"type": "redis", "redis_url": "redis://:s3cret-pw@127.0.0.1:1/0"},
    ],
    ids=["postgres", "dramatiq-redis"],
)
def test_workers_and_job_commands_on_a_server_that_is_down_exit_3(
    backend: dict[str, Any], ops_factory: Callable[[dict[str, Any]], Ops]
) -> None:
    engine = "native" if backend["type"] == "postgres" else "dramatiq"
    ops = ops_factory({"engine": engine, "backend": backend})
    for args in (("workers", APP), ("job", "show", APP, "some-id"), ("queues", APP)):
        done = ops.cli(*args, code=3)
        lines = done.stderr.strip().splitlines()
        assert lines[-1].startswith("error: "), done.stderr
        assert "unreachable" in lines[-1]
        assert "s3cret-pw" not in done.stdout + done.stderr
