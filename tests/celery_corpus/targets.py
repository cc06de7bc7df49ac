"""Where the corpus runs: real Celery, the shim on each engine with its native worker, and
the project converted by the codemod (``--to neutral``) on memory and postgres.

Each :class:`Target` prepares private room on the shared servers (a RabbitMQ vhost,
a scratch database, a Redis namespace or key prefix), gives the settings the
project's ``proj/celery.py`` reads from ``CORPUS_SETTINGS``, names the worker
command, and removes what it made afterwards. :func:`run_target` materialises the
project, starts the worker (none on memory: its native worker is the app's own, in
the calling process), runs :mod:`tests.celery_corpus.driver`, stops the worker and
returns what was observed.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import redis

from tests.postgres.databases import ScratchDatabase, create_test_database

from .materialise import REPORT_FILE, Flavour, materialise
from .sink import KEY_ENV, URL_ENV

__all__ = [
    "FLAVOURS",
    "NEUTRAL_TARGETS",
    "REAL",
    "SHIM_TARGETS",
    "TARGETS",
    "RunReport",
    "Target",
    "run_target",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
REDIS_DB = 8
"""The Redis db of the sink and of real Celery's results (key prefixes private to the run)."""
QUEUES = ("corpus", "corpus-reports")
"""The project's queues (``proj/settings.py``): its default queue and ``REPORTS_QUEUE``."""
CONCURRENCY = 4
READY_TIMEOUT = 60.0
DRIVER_TIMEOUT = 240.0
STOP_TIMEOUT = 20.0
CELERY_READY = re.compile(r"\S+@\S+ ready\.|Task \S+\[\S+\] received")
LEXIGRAM_SECTION: dict[str, Any] = {
    "scheduler": {"enabled": False},
    "worker": {"max_concurrent_tasks": CONCURRENCY, "poll_interval": 0.05, "shutdown_timeout": 5.0},
}


def _with_db(url: str, db: int) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, f"/{db}", "", ""))


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@dataclass
class Target:
    """One place the corpus runs; ``prepare`` before, ``cleanup`` after."""

    key: str
    flavour: Flavour
    ready: re.Pattern[str] | None = None
    tag: str = field(default_factory=lambda: uuid.uuid4().hex[:10])
    _undo: list[Any] = field(default_factory=list)

    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        """Make the private room; return the Celery settings of ``CORPUS_SETTINGS``."""
        raise NotImplementedError

    def worker_argv(self) -> list[str] | None:
        """The native worker command (None: the driver runs the worker in-process)."""
        return None

    def lexigram(self, section: dict[str, Any]) -> dict[str, Any]:
        merged = json.loads(json.dumps(LEXIGRAM_SECTION))
        for key, value in section.items():
            merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
        return {"lexigram": {"tasks": merged}}

    def vhost(self, services: dict[str, str]) -> str:
        name = f"celery-corpus-{self.key}-{self.tag}"
        _rabbitmqctl("add_vhost", name)
        self._undo.append(lambda: _rabbitmqctl("delete_vhost", name))
        _rabbitmqctl("set_permissions", "-p", name, "guest", ".*", ".*", ".*")
        amqp = urlsplit(services["rabbitmq"])
        return urlunsplit((amqp.scheme, amqp.netloc, f"/{name}", "", ""))

    def redis_prefix(self, url: str, prefix: str) -> None:
        def delete() -> None:
            client = redis.Redis.from_url(url)
            try:
                keys = list(client.scan_iter(match=f"{prefix}*", count=1000))
                for start in range(0, len(keys), 500):
                    client.delete(*keys[start : start + 500])
            finally:
                client.close()

        self._undo.append(delete)

    def cleanup(self) -> None:
        for undo in reversed(self._undo):
            with contextlib.suppress(Exception):
                undo()
        self._undo.clear()


class RealCelery(Target):
    """The real ``celery`` package: ``celery -A proj worker`` (prefork, as deployed) on
    RabbitMQ, results in Redis."""

    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        prefix = f"celery-corpus-{self.tag}:"
        results = _with_db(services["redis"], REDIS_DB)
        self.redis_prefix(results, prefix)
        return {
            "broker_url": self.vhost(services),
            "result_backend": results,
            "result_backend_transport_options": {"global_keyprefix": prefix},
            "result_expires": 600,
            "broker_connection_retry_on_startup": True,
            "worker_hijack_root_logger": False,
        }

    def worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "proj", "worker", "-P", "prefork",
                "-c", str(CONCURRENCY), "-Q", ",".join(QUEUES), "-n", f"corpus-real-{self.tag}@%h",
                "-l", "info", "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip


class Memory(Target):
    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        return self.lexigram({"backend": {"type": "memory"}})


class Postgres(Target):
    """A scratch database (a copy of the migrated template); ``lexigram-compat worker``."""

    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        database: ScratchDatabase = asyncio.run(create_test_database(services["postgres"]))
        self._undo.append(lambda: asyncio.run(database.drop()))
        return self.lexigram(
            {"engine": "native", "backend": {"type": "postgres", "postgres_dsn": database.dsn}}
        )

    def worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "lexigram_compat.cli", "--log-level", "info", "worker",
                "tests.celery_corpus.shim_entry:app"]  # fmt: skip


class DramatiqRedis(Target):
    """A private namespace in Redis db 1; the ``dramatiq`` CLI."""

    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        url = _with_db(services["redis"], 1)
        namespace = f"celery-corpus-{self.tag}"
        self.redis_prefix(url, f"{namespace}:")
        return self.lexigram({"engine": "dramatiq", "backend": {"type": "redis", "redis_url": url},
                              "extra": {"dramatiq": {"namespace": namespace}}})  # fmt: skip

    def worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "dramatiq", "tests.celery_corpus.shim_entry", "--processes", "1",
                "--threads", str(CONCURRENCY), "--worker-shutdown-timeout", "8000"]  # fmt: skip


class CeleryRabbitmq(Target):
    """The Celery engine on a private vhost, its job state under a private Redis prefix;
    ``celery worker``."""

    def prepare(self, services: dict[str, str]) -> dict[str, Any]:
        url = _with_db(services["redis"], REDIS_DB)
        prefix = f"celery-corpus-{self.tag}:"
        self.redis_prefix(url, prefix)
        backend = {"type": "amqp", "amqp_url": self.vhost(services), "redis_url": url}
        return self.lexigram({"engine": "celery", "backend": backend,
                              "extra": {"celery": {"key_prefix": prefix}}})  # fmt: skip

    def worker_argv(self) -> list[str]:
        return [sys.executable, "-m", "celery", "-A", "tests.celery_corpus.shim_entry:celery_app", "worker",
                "-P", "threads", "-c", str(CONCURRENCY), "-Q", ",".join(QUEUES),
                "-n", f"corpus-shim-{self.tag}@%h", "-l", "info",
                "--without-gossip", "--without-mingle", "--without-heartbeat"]  # fmt: skip


REAL = "celery"
TARGETS: dict[str, type[Target]] = {
    REAL: RealCelery,
    "memory": Memory,
    "postgres": Postgres,
    "dramatiq-redis": DramatiqRedis,
    "celery-rabbitmq": CeleryRabbitmq,
    "neutral-memory": Memory,
    "neutral-postgres": Postgres,
}
FLAVOURS: dict[str, Flavour] = {
    key: "celery" if key == REAL else "neutral" if key.startswith("neutral-") else "shim" for key in TARGETS
}
"""How each target materialises the project (:func:`~.materialise.materialise`)."""
SHIM_TARGETS = [key for key in TARGETS if FLAVOURS[key] == "shim"]
NEUTRAL_TARGETS = [key for key in TARGETS if FLAVOURS[key] == "neutral"]
_READY = {
    REAL: CELERY_READY,
    "postgres": re.compile(r"worker started"),
    "neutral-postgres": re.compile(r"worker started"),
    "dramatiq-redis": re.compile(r"lexigram worker ready"),
    "celery-rabbitmq": CELERY_READY,
}


@dataclass
class RunReport:
    """What one run observed: per module its handles' ``[state, value]`` and any
    scenario error, every sink event, the class of the project's app (``celery.Celery``
    or the shim's), the worker's log, how long it took, and on a neutral target what the
    codemod reported."""

    target: str
    app_class: str
    modules: dict[str, dict[str, Any]]
    events: list[dict[str, Any]]
    worker_log: str
    seconds: float
    migration: dict[str, Any] | None = None
    """The codemod's report (JSON) on a neutral target, None on the others."""

    def to_json(self) -> str:
        return json.dumps(self.__dict__)

    @classmethod
    def from_json(cls, text: str) -> RunReport:
        return cls(**json.loads(text))


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(STOP_TIMEOUT)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _wait_ready(process: subprocess.Popen[bytes], log: Path, pattern: re.Pattern[str]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT
    while time.monotonic() < deadline:
        if pattern.search(log.read_text(errors="replace")):
            return
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise AssertionError(f"the worker did not start (exit {process.poll()}):\n{log.read_text()[-4000:]}")


def run_target(key: str, workdir: Path, modules: list[str], services: dict[str, str]) -> RunReport:
    """Run every corpus module of ``modules`` once on target ``key``."""
    target = TARGETS[key](key, FLAVOURS[key])
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    materialise(workdir, modules, flavour=target.flavour)
    sink_url, sink_key = _with_db(services["redis"], REDIS_DB), f"celery-corpus-sink:{key}:{target.tag}"
    target._undo.append(lambda: redis.Redis.from_url(sink_url).delete(sink_key))
    log = workdir / "worker.log"
    worker: subprocess.Popen[bytes] | None = None
    try:
        settings = target.prepare(services)
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join([str(workdir), str(REPO_ROOT)]),
            "PYTHONUNBUFFERED": "1",
            "CORPUS_MODULES": ",".join(modules),
            "CORPUS_SETTINGS": json.dumps(settings),
            URL_ENV: sink_url,
            KEY_ENV: sink_key,
        }
        argv = target.worker_argv()
        if argv is not None:
            with log.open("wb") as out:
                worker = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                    env=env, cwd=workdir, start_new_session=True,
                )  # fmt: skip
            _wait_ready(worker, log, _READY[key])
        report = workdir / "report.json"
        driver = [sys.executable, "-m", "tests.celery_corpus.driver", str(report)]
        if argv is None:
            driver.append("--memory-worker")
        done = subprocess.run(driver, env=env, cwd=workdir, capture_output=True, timeout=DRIVER_TIMEOUT,
                              check=False)  # fmt: skip
        if done.returncode != 0:
            raise AssertionError(
                f"the {key} driver failed ({done.returncode}):\n{done.stderr.decode()[-4000:]}"
                f"\nworker log:\n{log.read_text()[-4000:] if log.exists() else ''}"
            )
        data = json.loads(report.read_text())
    finally:
        if worker is not None:
            _stop(worker)
        target.cleanup()
    worker_log = log.read_text(errors="replace") if log.exists() else done.stderr.decode(errors="replace")
    seconds = time.monotonic() - started
    migrated = workdir / REPORT_FILE
    migration = json.loads(migrated.read_text()) if target.flavour == "neutral" else None
    return RunReport(key, data["app_class"], data["modules"], data["events"], worker_log, seconds, migration)
