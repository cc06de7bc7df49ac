"""The real servers tests talk to: PostgreSQL, Redis and RabbitMQ on loopback.

Each is a session fixture (registered in ``tests/conftest.py``) that checks the
server answers on its port once per run. A missing server **fails** the tests
that need it under ``CI=true`` (``scripts/services`` starts them before the
suite); outside CI it skips them, saying which server is missing and how to
start it. Addresses can be overridden with ``LEXIGRAM_TEST_POSTGRES_DSN``,
``LEXIGRAM_TEST_REDIS_URL`` and ``LEXIGRAM_TEST_AMQP_URL``.

Isolation inside a server (a database from a template, a Redis db or key
prefix, a vhost or unique queue names) is each engine's fixtures' job.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from urllib.parse import urlsplit

import pytest

from lexigram_compat.config_loading import redact_url

__all__ = ["SERVICES", "Service", "require_service"]


@dataclass(frozen=True)
class Service:
    """A server the tests use: its URL (DSN for PostgreSQL) and where it listens."""

    name: str
    url: str
    host: str
    port: int

    def __repr__(self) -> str:
        return f"Service({self.name!r}, {redact_url(self.url)!r})"


@dataclass(frozen=True)
class _Known:
    name: str
    env: str
    default: str
    default_port: int
    start: str


SERVICES: dict[str, _Known] = {
    "postgres": _Known(
        "PostgreSQL",
        "LEXIGRAM_TEST_POSTGRES_DSN",
        "postgresql://postgres@127.0.0.1:5432/test",
        5432,
        "pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start",
    ),
    "redis": _Known(
        "Redis",
        "LEXIGRAM_TEST_REDIS_URL",
        "redis://127.0.0.1:6379",
        6379,
        "redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save '' --appendonly no",
    ),
    "rabbitmq": _Known(
        "RabbitMQ",
        "LEXIGRAM_TEST_AMQP_URL",
        "amqp://guest:guest@127.0.0.1:5672//",
        5672,
        "rabbitmq-server -detached",
    ),
}


def _answers(host: str, port: int, timeout: float = 2.0) -> str | None:
    """None when something accepts TCP connections on host:port, else why not."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return None
    except OSError as exc:
        return exc.strerror or type(exc).__name__


def require_service(key: str) -> Service:
    """The server ``key`` (``postgres``, ``redis``, ``rabbitmq``), checked to answer.

    Fails the calling test under ``CI=true`` when it does not; skips it otherwise.
    """
    known = SERVICES[key]
    url = os.environ.get(known.env, known.default)
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or known.default_port
    why = _answers(host, port)
    if why is None:
        return Service(known.name, url, host, port)
    message = (
        f"{known.name} is not reachable at {host}:{port} ({why}); start it with `{known.start}` "
        f"or point {known.env} at one (scripts/test starts it for you)"
    )
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(message, pytrace=False)
    pytest.skip(message)
