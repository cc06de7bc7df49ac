"""Sections for the operator tests' engines, and real processes to run against them."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conformance.subprocess_harness import REPO_ROOT
from tests.operations.ops_app import SECTION_ENV
from tests.postgres.databases import create_test_database
from tests.services import Service

DEADLINE = 60.0
CELERY_REDIS_DB = 8
DRAMATIQ_REDIS_DB = 3
PG_PASSWORD = "pg-dsn-secret-77"
"""A password in the PostgreSQL DSN (the test server trusts loopback, so any is
accepted): no log line may show it."""


class Proc:
    """A started process whose output goes to a file."""

    def __init__(self, process: subprocess.Popen[bytes], log: Path) -> None:
        self.process = process
        self.log_path = log

    @property
    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, what: str, condition: Callable[[], bool], timeout: float = DEADLINE) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"exited ({self.process.returncode}) before {what}; output:\n{self.log[-4000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {timeout}s; output:\n{self.log[-4000:]}")
            time.sleep(0.05)

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.terminate()
        try:
            return self.process.wait(timeout=DEADLINE)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(timeout=DEADLINE)


class Ops:
    """Runs processes on one test's app section."""

    def __init__(self, section: dict[str, Any], tmp_path: Path) -> None:
        self.section = section
        self.tmp_path = tmp_path
        self.started: list[Proc] = []

    @property
    def env(self) -> dict[str, str]:
        env = {**os.environ, SECTION_ENV: json.dumps(self.section), "PYTHONUNBUFFERED": "1"}
        env["PYTHONPATH"] = os.pathsep.join([str(REPO_ROOT), env.get("PYTHONPATH", "")])
        return env

    def cli(self, *args: str, code: int = 0) -> subprocess.CompletedProcess[str]:
        """``lexigram-compat ARGS`` to completion; checks the exit code."""
        done = subprocess.run(
            [sys.executable, "-m", "lexigram_compat.cli", *args],
            cwd=REPO_ROOT,
            env=self.env,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=DEADLINE,
            check=False,
        )
        assert done.returncode == code, (
            f"exit {done.returncode}, expected {code}\n{done.stdout}\n{done.stderr}"
        )
        return done

    def cli_json(self, *args: str, code: int = 0) -> Any:
        return json.loads(self.cli(*args, "--json", code=code).stdout)

    def spawn(self, argv: list[str], name: str, env: dict[str, str] | None = None) -> Proc:
        log = self.tmp_path / f"{name}-{len(self.started)}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv,
                cwd=REPO_ROOT,
                env={**self.env, **(env or {})},
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        proc = Proc(process, log)
        self.started.append(proc)
        return proc

    def worker(self, *args: str, env: dict[str, str] | None = None) -> Proc:
        """``lexigram-compat worker APP`` (execs the engine's own worker for Celery/Dramatiq)."""
        argv = [sys.executable, "-m", "lexigram_compat.cli", "worker", "tests.operations.ops_app:app", *args]
        return self.spawn(argv, "worker", env)

    def close(self) -> None:
        for proc in self.started:
            proc.stop()


@pytest.fixture
async def postgres_section(postgres_service: Service) -> AsyncIterator[dict[str, Any]]:
    db = await create_test_database(postgres_service.url)
    try:
        parts = urlsplit(db.dsn)
        netloc = f"{parts.username or 'postgres'}:{PG_PASSWORD}@{parts.hostname}:{parts.port or 5432}"
        yield {
            "engine": "native",
            "backend": {"type": "postgres", "postgres_dsn": urlunsplit(parts._replace(netloc=netloc))},
            "retry": {"base_delay": 0.0, "jitter": False},
            "worker": {"poll_interval": 0.1, "shutdown_timeout": 5},
        }
    finally:
        await db.drop()


@pytest.fixture
def celery_redis_section(redis_service: Service) -> Iterator[dict[str, Any]]:
    parts = urlsplit(redis_service.url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{CELERY_REDIS_DB}", "", ""))
    tag = uuid.uuid4().hex[:10]
    prefix = f"lxops-{tag}:"
    yield {
        "engine": "celery",
        "backend": {"type": "redis", "redis_url": url, "queue_name": f"ops-{tag}"},
        "retry": {"base_delay": 0.0, "jitter": False},
        "worker": {"max_concurrent_tasks": 2, "shutdown_timeout": 5},
        "extra": {"celery": {"key_prefix": prefix, "transport_options": {"global_keyprefix": prefix}}},
    }
    client = redis.Redis.from_url(url)
    with contextlib.closing(client):
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


@pytest.fixture
def ops_factory(tmp_path: Path) -> Iterator[Callable[[dict[str, Any]], Ops]]:
    made: list[Ops] = []

    def make(section: dict[str, Any]) -> Ops:
        ops = Ops(section, tmp_path)
        made.append(ops)
        return ops

    yield make
    for ops in made:
        ops.close()


@pytest.fixture
def dramatiq_redis_section(redis_service: Service) -> Iterator[dict[str, Any]]:
    url = f"{redis_service.url.rstrip('/')}/{DRAMATIQ_REDIS_DB}"
    tag = uuid.uuid4().hex[:10]
    namespace = f"lxops-{tag}"
    yield {
        "engine": "dramatiq",
        "backend": {"type": "redis", "redis_url": url, "queue_name": f"ops-{tag}"},
        "retry": {"base_delay": 0.0, "jitter": False},
        "worker": {"max_concurrent_tasks": 2, "shutdown_timeout": 5},
        "extra": {"dramatiq": {"namespace": namespace}},
    }
    client = redis.Redis.from_url(url)
    with contextlib.closing(client):
        keys = list(client.scan_iter(match=f"{namespace}:*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=DEADLINE)


@pytest.fixture
def amqp_url(rabbitmq_service: Service) -> Iterator[str]:
    """The RabbitMQ URL of a vhost of this test's own (deleted after it), with the
    server's ``guest:guest`` credentials: the password is a secret no line may show."""
    vhost = f"lexigram-ops-{uuid.uuid4().hex[:10]}"
    _rabbitmqctl("add_vhost", vhost)
    try:
        _rabbitmqctl("set_permissions", "-p", vhost, "guest", ".*", ".*", ".*")
        parts = urlsplit(rabbitmq_service.url)
        yield urlunsplit((parts.scheme, parts.netloc, f"/{vhost}", "", ""))
    finally:
        _rabbitmqctl("delete_vhost", vhost)


@pytest.fixture
def dramatiq_rabbitmq_section(amqp_url: str, redis_service: Service) -> Iterator[dict[str, Any]]:
    state_url = f"{redis_service.url.rstrip('/')}/{DRAMATIQ_REDIS_DB}"
    tag = uuid.uuid4().hex[:10]
    namespace = f"lxops-{tag}"
    yield {
        "engine": "dramatiq",
        "backend": {"type": "amqp", "amqp_url": amqp_url, "state_url": state_url, "queue_name": f"ops-{tag}"},
        "retry": {"base_delay": 0.0, "jitter": False},
        "worker": {"max_concurrent_tasks": 2, "shutdown_timeout": 5},
        "extra": {"dramatiq": {"namespace": namespace}},
    }
    _delete_keys(state_url, f"{namespace}:")


@pytest.fixture
def celery_rabbitmq_section(amqp_url: str, redis_service: Service) -> Iterator[dict[str, Any]]:
    parts = urlsplit(redis_service.url)
    url = urlunsplit((parts.scheme, parts.netloc, f"/{CELERY_REDIS_DB}", "", ""))
    tag = uuid.uuid4().hex[:10]
    prefix = f"lxops-{tag}:"
    yield {
        "engine": "celery",
        "backend": {"type": "amqp", "amqp_url": amqp_url, "redis_url": url, "queue_name": f"ops-{tag}"},
        "retry": {"base_delay": 0.0, "jitter": False},
        "worker": {"max_concurrent_tasks": 2, "shutdown_timeout": 5},
        "extra": {"celery": {"key_prefix": prefix}},
    }
    _delete_keys(url, prefix)


def _delete_keys(url: str, prefix: str) -> None:
    client = redis.Redis.from_url(url)
    with contextlib.closing(client):
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        for start in range(0, len(keys), 500):
            client.delete(*keys[start : start + 500])
