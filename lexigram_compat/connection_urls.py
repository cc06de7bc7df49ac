"""Checking connection strings when the config is validated, not when a driver first uses them.

A ``redis_url: 127.0.0.1:6379`` used to pass validation and fail at import
with the driver's own ``ValueError``; :func:`url_problem` says what is wrong
with which key's value and what a valid one looks like. The checks are the
shape the drivers require (scheme, numeric port, libpq ``key=value`` pairs);
whether the server answers is for the connection to find out.
"""

from __future__ import annotations

import re
from typing import Literal
from urllib.parse import urlsplit

__all__ = ["ConnectionKind", "url_problem"]

ConnectionKind = Literal["redis", "amqp", "postgres"]

_SCHEMES: dict[ConnectionKind, frozenset[str]] = {
    # redis-py (Dramatiq) and kombu (Celery) between them.
    "redis": frozenset({"redis", "rediss", "unix", "sentinel", "redis+sentinel", "redis+socket", "socket"}),
    # pika (Dramatiq) and py-amqp via kombu (Celery).
    "amqp": frozenset({"amqp", "amqps", "pyamqp"}),
    "postgres": frozenset({"postgresql", "postgres"}),
}
_EXAMPLES: dict[ConnectionKind, str] = {
    "redis": "redis://127.0.0.1:6379/0 (or rediss://, unix:///path/redis.sock)",
    "amqp": "amqp://guest:guest@127.0.0.1:5672// (or amqps://)",
    "postgres": "postgresql://user:password@127.0.0.1:5432/dbname (or host=127.0.0.1 dbname=app user=app)",
}
_DEFAULT_SCHEME: dict[ConnectionKind, str] = {"redis": "redis", "amqp": "amqp", "postgres": "postgresql"}
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.\-]*)://")
_FAILOVER = re.compile(r";(?=[A-Za-z][A-Za-z0-9+.\-]*://)")
# libpq: key = value pairs, a value bare or '...' with \' and \\ escaped.
_KEYWORD_DSN = re.compile(r"\s*(?:[A-Za-z_]+\s*=\s*(?:'(?:[^'\\]|\\.)*'|[^\s']+)\s*)+")


def url_problem(kind: ConnectionKind, value: str) -> str | None:
    """What is wrong with ``value`` as a ``kind`` connection string, with the fix; None if nothing.

    Args:
        kind: Which server the string is for.
        value: The URL (or, for PostgreSQL, a libpq keyword DSN).

    Returns:
        A message such as ``"not a Redis URL: it has no scheme; write it as
        redis://127.0.0.1:6379/0 ..."``, or None.
    """
    text = value.strip()
    if not text:
        return f"empty; write it as {_EXAMPLES[kind]}"
    if kind == "postgres" and "://" not in text:
        if _KEYWORD_DSN.fullmatch(text):
            return None
        return "neither a postgresql:// URL nor libpq key=value pairs; write it as " + _EXAMPLES["postgres"]
    parts = _FAILOVER.split(text) if kind != "postgres" else [text]
    for part in parts:
        if (problem := _one_url_problem(kind, part)) is not None:
            return problem
    return None


def _one_url_problem(kind: ConnectionKind, url: str) -> str | None:
    allowed = ", ".join(f"{s}://" for s in sorted(_SCHEMES[kind]))
    match = _SCHEME.match(url)
    if match is None:
        host_like = url.rsplit("@", maxsplit=1)[-1].split("/", maxsplit=1)[0]
        guess = f" (did you mean {_DEFAULT_SCHEME[kind]}://{host_like}?)"
        return f"it has no scheme{guess}; write it as {_EXAMPLES[kind]}"
    scheme = match.group(1).lower()
    if scheme not in _SCHEMES[kind]:
        return f"scheme {scheme + '://'!r} is not one of {allowed}; write it as {_EXAMPLES[kind]}"
    try:
        port = urlsplit(url).port
    except ValueError:
        return (
            "the port is not a number from 0 to 65535 (a password holding : / @ ? # must be "
            f"URL-escaped, e.g. %40 for @); write it as {_EXAMPLES[kind]}"
        )
    del port
    return None
