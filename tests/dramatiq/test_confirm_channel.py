"""The py-amqp confirm channel both engines publish runs on
(``adapters/amqp_confirms.ConfirmChannel``), against a real RabbitMQ: a run's frames go
to the socket in one write, and every message of it is confirmed and queued."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

import amqp  # type: ignore[import-untyped]
import pytest

from lexigram_compat.adapters.amqp_confirms import ConfirmChannel, outcomes_of


def _connect(url: str) -> Any:
    parts = urlsplit(url)
    connection = amqp.Connection(
        host=f"{parts.hostname}:{parts.port or 5672}",
        userid=unquote(parts.username or "guest"),
        password=unquote(parts.password or "guest"),
        virtual_host=unquote(parts.path[1:]) or "/",
    )
    connection.connect()
    return connection


def _counting(transport: Any) -> list[int]:
    """Counts the socket writes of ``transport`` (the byte length of each)."""
    writes: list[int] = []
    send: Callable[[bytes], None] = transport._write

    def counted(data: bytes) -> None:
        writes.append(len(data))
        send(data)

    transport._write = counted
    return writes


@dataclass
class _Channel:
    confirm: ConfirmChannel
    queue: str
    writes: list[int]
    """The byte length of each socket write since the queue was declared."""


@pytest.fixture
def channel(amqp_url: str) -> Iterator[_Channel]:
    """A confirm channel on its own connection, with a fresh queue, counting its writes."""
    connection = _connect(amqp_url)
    try:
        confirm = ConfirmChannel(connection, connection.channel())
        queue = f"confirm-run-{uuid.uuid4().hex[:8]}"
        confirm.channel.queue_declare(queue, auto_delete=True)
        yield _Channel(confirm, queue, _counting(connection.transport))
    finally:
        connection.collect()


def test_a_run_is_written_at_once_and_each_message_confirmed(channel: _Channel) -> None:
    confirm, queue, writes = channel.confirm, channel.queue, channel.writes
    tags: list[range] = []
    with confirm.one_write():
        for i in range(30):
            first = confirm.next_tag
            confirm.channel.basic_publish(amqp.Message(f"job {i}".encode()), routing_key=queue)
            tags.append(range(first, confirm.next_tag))
        assert writes == [], "nothing is written before the run ends"
    assert len(writes) == 1, "the run's frames go in one write"
    confirm.wait(10)
    assert outcomes_of(confirm, tags, None) == [None] * 30
    assert confirm.channel.queue_declare(queue, passive=True).message_count == 30


def test_a_run_stopped_early_still_writes_what_it_published(channel: _Channel) -> None:
    confirm, queue, writes = channel.confirm, channel.queue, channel.writes
    try:
        with confirm.one_write():
            for i in range(3):
                confirm.channel.basic_publish(amqp.Message(f"job {i}".encode()), routing_key=queue)
            raise RuntimeError("the next message could not be built")
    except RuntimeError:
        pass
    assert len(writes) == 1
    confirm.wait(10)  # the three published are owed confirms, and get them
    assert confirm.channel.queue_declare(queue, passive=True).message_count == 3
    before = len(writes)
    confirm.channel.basic_publish(amqp.Message(b"after"), routing_key=queue)
    assert len(writes) == before + 1, "outside a run each publish is written at once again"
    confirm.wait(10)
