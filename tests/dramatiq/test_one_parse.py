"""Work the worker does once per delivery, or not at all (issue 15): a delivered body
is parsed once, checked by the engine's consumer, then decoded by Dramatiq from the
fields the check parsed (on both brokers it used to be parsed twice); the task's
attempt budget is looked up only for a message that carries none."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any

import pytest
from dramatiq import Message
from dramatiq.encoder import JSONEncoder

from lexigram_compat import TaskRegistry, TasksApp, task
from lexigram_compat.adapters.dramatiq.actors import default_max_attempts
from lexigram_compat.adapters.dramatiq.messages import (
    CheckedBody,
    CheckedDecoder,
    check_body,
    envelope_of,
    message_of,
)
from lexigram_compat.envelope import JobEnvelope

from .conftest import AppFactory

registry = TaskRegistry()
MESSAGE_FIELDS = {"queue_name": "q", "actor_name": "a", "args": [], "kwargs": {}, "options": {}}


@task(registry=registry, name="dq1.add")
async def add(a: int, b: int) -> int:
    return a + b


def _counting_json(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    parses: list[int] = []
    loads = json.loads

    def counting(*args: Any, **kwargs: Any) -> Any:
        parses.append(1)
        return loads(*args, **kwargs)

    monkeypatch.setattr(json, "loads", counting)
    return parses


def _next_delivery(app: TasksApp) -> Any:
    broker: Any = app.queue.backend.engine.native  # type: ignore[attr-defined]
    consumer = broker.consume(broker.get_declared_queues().pop(), prefetch=1, timeout=100)
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            delivered = next(consumer)
            if delivered is not None:
                consumer.nack(delivered)
                return delivered
        raise AssertionError("no delivery within 10s")
    finally:
        consumer.close()


@pytest.mark.parametrize("broker", ["redis", "rabbitmq"])
async def test_a_delivered_message_is_parsed_once(
    broker: str, redis_app: AppFactory, rabbitmq_app: AppFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    make = redis_app if broker == "redis" else rabbitmq_app
    async with make(registry) as app:
        job_id = (await app.queue.enqueue(add(2, 3))).unwrap()
        parses = _counting_json(monkeypatch)
        delivered = await asyncio.to_thread(_next_delivery, app)
    assert (delivered.message_id, delivered.args) == (job_id, (2, 3))
    assert len(parses) == 1


def test_a_checked_body_is_still_its_bytes_and_its_fields_are_taken_once() -> None:
    raw = json.dumps(MESSAGE_FIELDS).encode()
    checked = check_body(raw)
    assert isinstance(checked, CheckedBody)
    assert checked == raw
    assert checked.fields is not None
    assert checked.fields["queue_name"] == "q"
    assert check_body(b"[1]") == "a JSON value that is an array, not a Dramatiq message object"


class _Settler:
    def __init__(self) -> None:
        self.asked: list[str] = []

    def max_attempts_of(self, task_name: str) -> int:
        self.asked.append(task_name)
        return 4


def test_the_task_budget_is_looked_up_only_for_a_message_without_its_own() -> None:
    settler: Any = _Settler()
    plain: Message[Any] = Message("q", "dq1.add", (1, 2), {}, {})
    ours = message_of(JobEnvelope("j-1", "dq1.add", "q", args=[1, 2], max_attempts=7))
    assert default_max_attempts(plain, settler) == 4
    assert envelope_of(ours, default_max_attempts=default_max_attempts(ours, settler)).max_attempts == 7
    assert settler.asked == ["dq1.add"]


def test_an_apps_own_encoder_still_decodes_every_body() -> None:
    class Own(JSONEncoder):
        def decode(self, data: bytes) -> Any:
            return {**super().decode(data), "options": {"own": True}}

    checked = check_body(json.dumps(MESSAGE_FIELDS).encode())
    assert isinstance(checked, CheckedBody)
    assert CheckedDecoder(Own()).decode(checked)["options"] == {"own": True}
    fields = checked.fields
    assert CheckedDecoder(JSONEncoder()).decode(checked) is fields
