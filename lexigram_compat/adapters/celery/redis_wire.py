"""Celery messages on the Redis broker, written in the same round trip as the job record.

kombu's Redis transport keeps each queue as a list of JSON envelopes
(``{"body": <base64>, "content-type", "content-encoding", "headers",
"properties": {"delivery_tag", "delivery_info", "body_encoding", ...}}``) and a
consumer ``BRPOP``s them. Publishing through ``send_task`` costs a binding
lookup and a push per message, after the job record's own round trip; here
the headers and body come from Celery itself (``app.amqp.as_task_v2``, exactly
what ``task.delay()`` sends) and the envelope is pushed by the script that
creates the job record, so one pipeline both records and publishes a batch.
"""

from __future__ import annotations

import base64
import os
import socket
import uuid
from datetime import UTC, datetime
from typing import Any

from celery import Celery
from kombu.compression import compress

from lexigram_compat.compression import KOMBU_CONTENT_TYPES
from lexigram_compat.envelope import JobEnvelope, parse_utc
from lexigram_compat.serialization import dumps

HEADERS_KEY = "lexigram_headers"
"""The Celery message header carrying the job's own headers (``enqueue(headers=...)``):
one key, so they never collide with Celery's protocol headers."""


EXPIRES_KEY = "lexigram_expires_at"
"""The Celery message header carrying the job's expiry (ISO time). Not Celery's own
``expires``: a Celery worker drops an expired message before the task body runs, so
the job's record would never be settled; the settle step applies this one."""


def message_headers(envelope: JobEnvelope) -> dict[str, Any] | None:
    """The extra Celery message headers of ``envelope``: its trace context (where
    Celery's OpenTelemetry instrumentation reads it), its own headers and its expiry."""
    if envelope.trace is None and envelope.headers is None and envelope.expires_at is None:
        return None
    extra: dict[str, Any] = dict(envelope.trace or {})
    if envelope.headers is not None:
        extra[HEADERS_KEY] = envelope.headers
    if envelope.expires_at is not None:
        extra[EXPIRES_KEY] = envelope.expires_at.isoformat()
    return extra


def request_expires_at(request: Any) -> datetime | None:
    """The job's expiry a Celery request carries (:data:`EXPIRES_KEY`), or None."""
    return parse_utc(getattr(request, EXPIRES_KEY, None))


def request_headers(request: Any) -> dict[str, Any] | None:
    """The job's own headers a Celery request carries (custom message headers are
    request attributes), or None."""
    value = getattr(request, HEADERS_KEY, None)
    return dict(value) if isinstance(value, dict) and value else None


def request_eta(request: Any) -> datetime | None:
    """The request's ETA as an aware datetime, or None (Celery sends ISO text)."""
    value = getattr(request, "eta", None)
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime):
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


__all__ = ["RedisWire"]

EMBED = {"callbacks": None, "errbacks": None, "chain": None, "chord": None}


class RedisWire:
    """Builds kombu Redis envelopes of Celery protocol-v2 task messages."""

    def __init__(self, celery_app: Celery, key_prefix: str) -> None:
        self.celery = celery_app
        self.key_prefix = key_prefix
        """kombu's ``global_keyprefix`` (prepended to the queue's list name)."""
        self.origin = f"{os.getpid()}@{socket.gethostname()}"

    def list_key(self, queue: str) -> str:
        """The Redis list of ``queue`` (priority 0, the only level this engine uses)."""
        return f"{self.key_prefix}{queue}"

    def envelope(self, job: JobEnvelope) -> bytes:
        """The JSON the Redis transport stores for ``job``'s Celery message."""
        message = self.celery.amqp.as_task_v2(
            job.job_id,
            job.task_name,
            args=job.args,
            kwargs=job.kwargs,
            eta=job.run_at,
            root_id=job.job_id,
            origin=self.origin,
            # As send_task does on RabbitMQ: the registered task's limits (finding 14).
            time_limit=getattr(self.celery.tasks.get(job.task_name), "time_limit", None),
            soft_time_limit=getattr(self.celery.tasks.get(job.task_name), "soft_time_limit", None),
        )
        headers: dict[str, Any] = dict(message.headers)
        # The trace context where Celery's OpenTelemetry instrumentation reads it (a
        # request attribute), and the job's own headers.
        headers.update(message_headers(job) or {})
        body_bytes = dumps([job.args, job.kwargs, EMBED])
        if job.compression is not None:
            # As kombu's producer compresses (a plain Celery worker reads it back).
            body_bytes = compress(body_bytes, job.compression)[0]
            headers["compression"] = KOMBU_CONTENT_TYPES[job.compression]
        body = base64.b64encode(body_bytes).decode()
        return dumps(
            {
                "body": body,
                "content-encoding": "utf-8",
                "content-type": "application/json",
                "headers": headers,
                "properties": {
                    **message.properties,
                    "delivery_mode": 2,
                    "delivery_info": {"exchange": job.queue, "routing_key": job.queue},
                    "priority": 0,
                    "body_encoding": "base64",
                    "delivery_tag": str(uuid.uuid4()),
                },
            }
        )
