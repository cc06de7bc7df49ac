"""Which driver exceptions mean "the broker or database cannot be reached".

Every engine's driver has its own: redis-py's ``ConnectionError`` is not an
``OSError``, pika raises ``AMQPConnectionError`` (often with an empty message),
kombu ``OperationalError``. Without one table, ``queues`` with the broker down
exited 3 on PostgreSQL and 1 on Redis and RabbitMQ. Classes are matched by
qualified name along the MRO, so the core imports no driver (each is an
optional extra), and along the ``__cause__`` chain, since engines wrap driver
errors (not ``__context__``: a bug raised while handling a connection error is
still a bug).
"""

from __future__ import annotations

import socket

from lexigram_compat.redaction import redact

__all__ = [
    "UNAVAILABLE_ERRORS",
    "failed_to_connect",
    "is_unavailable",
    "outcome_unknown",
    "unavailable_cause",
    "unreachable_message",
]

UNAVAILABLE_ERRORS = frozenset(
    {
        # redis-py (AuthenticationError and TimeoutError-on-connect are ConnectionError subclasses)
        "redis.exceptions.ConnectionError",
        "redis.exceptions.TimeoutError",
        # pika (Dramatiq on RabbitMQ): ProbableAuthenticationError, StreamLostError... subclass it
        "pika.exceptions.AMQPConnectionError",
        # dramatiq wraps the above when it declares queues or publishes
        "dramatiq.errors.BrokerConnectionError",
        # kombu / py-amqp (Celery)
        "kombu.exceptions.OperationalError",
        "amqp.exceptions.RecoverableConnectionError",
        "amqp.exceptions.ConnectionForced",
        "amqp.exceptions.AccessRefused",
        # psycopg: the server cannot be reached or refused the connection
        "psycopg.OperationalError",
    }
)


def _names(exc: BaseException) -> set[str]:
    return {f"{cls.__module__}.{cls.__qualname__}" for cls in type(exc).__mro__}


def unavailable_cause(exc: BaseException) -> BaseException | None:
    """The exception in ``exc``'s chain that says the server cannot be reached, if any."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionError | TimeoutError) or _names(current) & UNAVAILABLE_ERRORS:
            return current
        current = current.__cause__
    return None


def is_unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or an exception it wraps) means the broker or database is unreachable."""
    return unavailable_cause(exc) is not None


def failed_to_connect(exc: BaseException) -> bool:
    """Whether ``exc`` says the connection could not be opened at all (refused, no
    route, name not found, connect timeout): a request that fails so never reached the
    server. Any other unreachable error may have come after the request was sent, so
    its outcome is unknown."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, ConnectionRefusedError | socket.gaierror):
            return True
        text = str(current)
        # redis-py: "Error 111 connecting to host:port. ...", "Timeout connecting to server"
        if "connecting to" in text or "Connect call failed" in text:
            return True
        current = current.__cause__ or current.__context__
    return False


def outcome_unknown(exc: BaseException) -> bool:
    """Whether a request that failed with ``exc`` may still have been carried out: the
    server became unreachable after the request was sent (not a connection that could
    never be opened)."""
    return is_unavailable(exc) and not failed_to_connect(exc)


def unreachable_message(operation: str, exc: BaseException) -> str:
    """``"<operation> failed: the broker is unreachable (<Type>: <driver text>)"``, on one
    line and redacted (pika's ``AMQPConnectionError`` has no text: its type alone is shown)."""
    cause = unavailable_cause(exc) or exc
    text = " ".join(str(cause).split())
    if len(text) > 200:
        text = text[:197] + "..."
    detail = f"{type(cause).__name__}: {redact(text)}" if text else type(cause).__name__
    return f"{operation} failed: the broker is unreachable ({detail})"
