"""The harness plumbing a subprocess worker relies on: the worker process builds
the test's app (same config, tasks and container, the same recorder file), and
``idle()`` says what ``drain()`` waits for."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lexigram_compat import JobStatus

from . import jobs
from .harness import EngineHarness, ok

ROOT = Path(__file__).resolve().parents[2]

# Builds the app as a worker process does, reports it, and records through the
# Recorder its container injects.
WORKER_SIDE = textwrap.dedent(
    """
    import json
    from tests.conformance.jobs import Greeting
    from tests.conformance.recorder import Recorder
    from tests.conformance.worker_app import app

    resolve = app.container.resolve
    resolve(Recorder).record(
        "worker_side", greeting=resolve(Greeting).text, formal=resolve(Greeting, "formal").text
    )
    print(json.dumps({"config": app.config.model_dump(mode="json"), "tasks": sorted(app.registry.names())}))
    """
)


def test_a_worker_process_builds_the_tests_app(engine: EngineHarness) -> None:
    done = subprocess.run(
        [sys.executable, "-c", WORKER_SIDE],
        cwd=ROOT,
        env=engine.worker_environ(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr

    seen = json.loads(done.stdout)
    assert seen["config"] == engine.app.config.model_dump(mode="json")
    assert seen["tasks"] == sorted(engine.app.registry.names())
    [entry] = engine.recorder.entries("worker_side")
    assert entry.pid != os.getpid()
    assert entry.data == {"greeting": "hello", "formal": "good evening"}


def test_the_worker_app_module_names_what_is_missing(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LEXIGRAM_CONFORMANCE_")}
    done = subprocess.run(
        [sys.executable, "-c", "import tests.conformance.worker_app"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert "LEXIGRAM_CONFORMANCE_SECTION, LEXIGRAM_CONFORMANCE_RECORDER not set" in done.stderr


@pytest.mark.requires("delay")
async def test_idle_is_what_drain_waits_for(engine: EngineHarness) -> None:
    assert await engine.idle()
    ok(await engine.app.queue.enqueue(jobs.noop("later"), delay=3600))
    assert await engine.idle(), "a job delayed into the future does not count"
    on_named = ok(await engine.app.queue.enqueue(jobs.on_named_queue("named")))
    assert not await engine.idle(), "a ready job on a task-declared queue counts"

    await engine.drain()

    assert (await engine.info(on_named)).status is JobStatus.COMPLETED
    assert await engine.idle()
