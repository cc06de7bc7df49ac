"""The same Celery message on both brokers (review finding 14)."""

from __future__ import annotations

import base64
import json
import time

from kombu import Connection

from lexigram_compat import TasksApp
from lexigram_compat.adapters.celery import CeleryEngine
from lexigram_compat.adapters.celery.tasks import SHUTDOWN_GRACE
from lexigram_compat.envelope import JobEnvelope

from . import interop_tasks
from .conftest import Broker


def test_redis_messages_carry_the_time_limits_send_task_puts_on_rabbitmq(broker: Broker) -> None:
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)
    engine = app.queue.backend.engine
    assert isinstance(engine, CeleryEngine)
    task = app.native.tasks["interop.multiply"]
    expected = [app.config.worker.default_timeout + SHUTDOWN_GRACE, None]
    assert (task.time_limit, task.soft_time_limit) == tuple(expected)
    envelope = JobEnvelope(
        job_id="j-1", task_name="interop.multiply", queue=broker.queue, args=[1, 2], kwargs={}
    )

    if broker.kind == "redis":
        assert engine._wire is not None
        message = json.loads(engine._wire.envelope(envelope))
        headers = message["headers"]
        assert json.loads(base64.b64decode(message["body"]))[:2] == [[1, 2], {}]
    else:  # what send_task really publishes, read back from the queue
        engine.publish_message(envelope)
        with Connection(broker.url) as conn:
            channel = conn.default_channel
            got = None
            deadline = time.monotonic() + 10
            while got is None:
                assert time.monotonic() < deadline, "the message never reached the queue"
                got = channel.basic_get(broker.queue, no_ack=True)
            headers = got.headers
    assert list(headers["timelimit"]) == expected
