"""Is each backend's server listening? One answer for every engine, before a command uses it.

Engines reach their broker differently and some not at all for a given
command: Celery on RabbitMQ answers ``queues`` and ``dlq list`` from its Redis
state store, so with RabbitMQ stopped they printed zeros and exited 0 while
Dramatiq exited 3. A command that works on a backend first opens (and closes)
a TCP connection to every server that backend's URLs name; none answering is
a :class:`BrokerUnavailableError` (exit 3) naming the backend and the redacted
URL. Credentials and protocol are the engine's business afterwards. A
fail-over list (``a;b``) is reachable when any member is.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Iterable
from urllib.parse import urlsplit

from pydantic import SecretStr

from lexigram_compat.backends import Backend
from lexigram_compat.errors import BrokerUnavailableError
from lexigram_compat.redaction import redact

__all__ = ["CONNECT_TIMEOUT", "check_reachable", "servers_of"]

CONNECT_TIMEOUT = 3.0
_DEFAULT_PORTS = {
    "redis": 6379,
    "rediss": 6379,
    "sentinel": 26379,
    "redis+sentinel": 26379,
    "amqp": 5672,
    "pyamqp": 5672,
    "amqps": 5671,
    "postgresql": 5432,
    "postgres": 5432,
}
_FAILOVER = re.compile(r";(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
_KEYWORD = re.compile(r"(\w+)\s*=\s*('(?:[^'\\]|\\.)*'|\S+)")

Server = tuple[str, int] | str
"""``(host, port)``, or the path of a Unix socket."""


def _urls_of(backend: Backend) -> list[str]:
    config = backend.config
    secrets: list[SecretStr | None]
    if config.type == "redis":
        secrets = [config.redis_url]
    elif config.type == "amqp":
        secrets = [config.amqp_url]
    elif config.type == "postgres":
        secrets = [config.postgres_dsn]
    else:
        return []
    if config.state_url is not None:
        secrets.append(config.state_url)
    return [s.get_secret_value() for s in secrets if s is not None]


def servers_of(connection: str) -> list[Server]:
    """The servers a URL (or fail-over list, or libpq keyword DSN) names, defaults filled in."""
    if "://" not in connection:
        pairs = {k.lower(): v.strip("'") for k, v in _KEYWORD.findall(connection)}
        host, port = pairs.get("host", "localhost"), int(pairs.get("port", "5432") or 5432)
        return [f"{host}/.s.PGSQL.{port}" if host.startswith("/") else (host, port)]
    found: list[Server] = []
    for url in _FAILOVER.split(connection):
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
        if scheme in ("unix", "socket", "redis+socket"):
            found.append(parts.path)
            continue
        query_host = dict(p.partition("=")[::2] for p in parts.query.split("&")).get("host", "")
        if not parts.hostname and query_host.startswith("/"):
            found.append(f"{query_host}/.s.PGSQL.{parts.port or 5432}")
            continue
        found.append((parts.hostname or "localhost", parts.port or _DEFAULT_PORTS.get(scheme, 0)))
    return found


async def _answers(server: Server) -> bool:
    try:
        if isinstance(server, str):
            opening = asyncio.open_unix_connection(server)
        else:
            opening = asyncio.open_connection(*server)
        _, writer = await asyncio.wait_for(opening, CONNECT_TIMEOUT)
    except (OSError, TimeoutError, ValueError):
        return False
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()
    return True


async def check_reachable(backends: Iterable[Backend], operation: str) -> None:
    """Raise :class:`BrokerUnavailableError` for the first backend none of whose servers answer.

    Args:
        backends: The backends the command is about to use.
        operation: What the command does, for the message (``"queues"``).
    """
    for backend in backends:
        for url in _urls_of(backend):
            servers = servers_of(url)
            if not servers:
                continue
            answers = await asyncio.gather(*(_answers(s) for s in servers))
            if not any(answers):
                raise BrokerUnavailableError(
                    f"{operation}: the {backend.name} backend's server is unreachable at {redact(url)}",
                    hint="check that the server is running and the URL in the tasks config is right",
                )
