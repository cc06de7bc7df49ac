"""``lexigram-compat worker APP`` when APP is not a module-level ``TasksApp`` (a factory, a
dotted path such as the Celery shim's ``proj.celery:app.tasks_app``): the engine's own worker
program loads ``lexigram_compat.native_entry``, which builds the app from ``$LEXIGRAM_APP``.
Real ``dramatiq`` worker, real Redis."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from lexigram_compat.cli.loading import module_builds_app, parse_app_spec
from tests.processes import terminate
from tests.services import Service

from . import factory_app

ROOT = Path(__file__).resolve().parents[2]


def test_only_a_module_level_tasks_app_is_built_by_importing_its_module() -> None:
    assert module_builds_app(parse_app_spec("tests.cli.sample_app:app"))
    assert not module_builds_app(parse_app_spec("tests.cli.factory_app:make_app"))
    assert not module_builds_app(parse_app_spec("tests.cli.sample_app:app.queue"))


def test_a_factory_app_runs_on_the_dramatiq_worker_program(
    tmp_path: Path, redis_service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = urlsplit(redis_service.url)
    namespace = f"lxentry-{uuid.uuid4().hex[:10]}"
    env = {
        **os.environ,
        "FACTORY_REDIS_URL": urlunsplit((base.scheme, base.netloc, "/9", "", "")),
        "FACTORY_NAMESPACE": namespace,
        "PYTHONPATH": str(ROOT),
    }
    for key in ("FACTORY_REDIS_URL", "FACTORY_NAMESPACE"):
        monkeypatch.setenv(key, env[key])  # this process builds the same app to enqueue
    marker = tmp_path / "ran"
    log = tmp_path / "worker.log"
    app = factory_app.make_app()
    with log.open("wb") as out:
        worker = subprocess.Popen(
            [sys.executable, "-m", "lexigram_compat.cli", "worker", "tests.cli.factory_app:make_app"],
            cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    try:
        app.start_sync()
        job_id = app.queue.enqueue_sync(factory_app.touch(str(marker))).unwrap()
        deadline = time.monotonic() + 60
        while not marker.exists():
            assert worker.poll() is None, log.read_text()[-3000:]
            assert time.monotonic() < deadline, f"job {job_id} never ran:\n{log.read_text()[-3000:]}"
            time.sleep(0.1)
        text = log.read_text()
        assert "dramatiq lexigram_compat.native_entry" in text  # the program loaded the entry module
        assert marker.read_text() != f"ran in {os.getpid()}"  # run by the worker, not here
    finally:
        terminate(worker)
        app.close_sync()
        client = redis.Redis.from_url(env["FACTORY_REDIS_URL"])
        keys = list(client.scan_iter(match=f"{namespace}*", count=1000))
        if keys:
            client.delete(*keys)
        client.close()
    assert worker.returncode == 0, log.read_text()[-3000:]
