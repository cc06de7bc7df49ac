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
from typing import Any

from celery import Celery

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.serialization import dumps

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
        if job.trace is not None:
            # Where Celery's OpenTelemetry instrumentation reads it (a request attribute).
            headers.update(job.trace)
        body = base64.b64encode(dumps([job.args, job.kwargs, EMBED])).decode()
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
