"""Brokers and worker subprocesses for the Celery engine's own tests.

Isolation as in ``tests/conformance/engines/celery.py``: Redis db 9 with a key
prefix per test (kombu's ``global_keyprefix`` too), RabbitMQ in this process's
own vhost with a queue name per test.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import redis

from tests.conformance.engines.celery import _session_vhost

ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 9
READY_TIMEOUT = 30.0


@dataclass
class Broker:
    """One isolated place on a broker for one test."""

    kind: str
    url: str
    redis_url: str
    queue: str
    prefix: str
    transport: dict[str, Any] = field(default_factory=dict)

    def section(self, **extra: Any) -> dict[str, Any]:
        """The ``tasks:`` section of a facade app on this broker."""
        backend: dict[str, Any] = {"type": self.kind, "queue_name": self.queue, "redis_url": self.redis_url}
        if self.kind == "amqp":
            backend["amqp_url"] = self.url
        section: dict[str, Any] = {
            "engine": "celery",
            "backend": backend,
            "scheduler": {"enabled": False},
            "worker": {"poll_interval": 0.05, "shutdown_timeout": 5.0},
            "retry": {"max_attempts": 2, "base_delay": 0.05, "jitter": False},
            "extra": {"celery": {"key_prefix": self.prefix, "transport_options": self.transport}},
        }
        section.update(extra)
        return section


@pytest.fixture(params=["redis", "amqp"], ids=["redis", "rabbitmq"])
def broker(request: pytest.FixtureRequest) -> Iterator[Broker]:
    server = request.getfixturevalue("redis_service")
    base = urlsplit(server.url)
    redis_url = urlunsplit((base.scheme, base.netloc, f"/{REDIS_DB}", "", ""))
    tag = uuid.uuid4().hex[:12]
    prefix = f"lxct-{tag}:"
    if request.param == "redis":
        found = Broker("redis", redis_url, redis_url, f"q-{tag}", prefix, {"global_keyprefix": prefix})
    else:
        amqp = urlsplit(request.getfixturevalue("rabbitmq_service").url)
        url = urlunsplit((amqp.scheme, amqp.netloc, f"/{_session_vhost()}", "", ""))
        found = Broker("amqp", url, redis_url, f"q-{tag}", prefix)
    yield found
    client = redis.Redis.from_url(redis_url)
    try:
        keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


class Worker:
    """A ``celery worker`` subprocess with its log in a file."""

    def __init__(self, argv: list[str], env: dict[str, str], log: Path) -> None:
        self.log = log
        self._out = log.open("wb")
        full_env = {**os.environ, **env, "PYTHONPATH": str(ROOT), "PYTHONUNBUFFERED": "1"}
        self.process = subprocess.Popen(
            argv, cwd=ROOT, env=full_env, stdout=self._out, stderr=subprocess.STDOUT, start_new_session=True
        )
        self.wait_for_log(" ready.")

    def text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, needle: str, timeout: float = READY_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while needle not in self.text():
            if self.process.poll() is not None:
                raise AssertionError(f"the worker exited ({self.process.returncode}):\n{self.text()[-3000:]}")
            if time.monotonic() > deadline:
                raise AssertionError(f"the worker never printed {needle!r}:\n{self.text()[-3000:]}")
            time.sleep(0.02)

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._out.close()
        return self.process.returncode


def celery_worker_argv(app: str, queue: str) -> list[str]:
    return [
        sys.executable, "-m", "celery", "-A", app, "worker", "-P", "threads", "-c", "2", "-Q", queue,
        "-n", f"t-{uuid.uuid4().hex[:8]}@%h", "-l", "info",
        "--without-gossip", "--without-mingle", "--without-heartbeat",
    ]  # fmt: skip


def wait_for(condition: Any, what: str, timeout: float = 20.0) -> None:
    """Poll ``condition()`` until true; fail naming ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"gave up after {timeout}s waiting until {what}")
        time.sleep(0.02)


def read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
