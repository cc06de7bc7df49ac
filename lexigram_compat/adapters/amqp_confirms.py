"""Pipelined publisher confirms on py-amqp, for both engines on RabbitMQ.

A confirmed publish that waits for its confirm waits a round trip; a run of N
messages, N round trips. A :class:`ConfirmChannel` publishes without waiting (a run's
frames written to the socket at once, :meth:`ConfirmChannel.one_write`) and then
awaits every confirm of the run at once: RabbitMQ numbers a confirm channel's publishes
1, 2, ... and answers ``basic.ack``/``basic.nack`` with that number, ``multiple`` for
all up to it. A message counts as published only once acked; nacked, returned
(unroutable, with ``mandatory``) or unanswered ones (the wait timed out, the
connection or channel failed) are failures. Used by the Celery engine (on kombu's
pooled connections, :mod:`.celery.confirms`) and the Dramatiq engine (on a connection
of its own per publishing thread, :mod:`.dramatiq.rabbitmq_confirms`).
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["BASIC_PUBLISH", "ConfirmChannel", "ConfirmStats", "MessageRefused", "outcomes_of"]


class MessageRefused(Exception):
    """RabbitMQ answered a publish with ``basic.nack``, or returned it unroutable: it
    does not have the message."""


BASIC_PUBLISH = (60, 40)
"""AMQP 0-9-1 ``basic.publish`` (class 60, method 40), as py-amqp's ``spec.Basic.Publish``."""


class ConfirmStats:
    """Counters of what the confirm channels did (tests read them: round trips, not time)."""

    def __init__(self) -> None:
        self.channels_opened = 0
        self.confirm_waits = 0
        """Runs that waited for their confirms (one wait per run, however long the run)."""
        self._lock = threading.Lock()  # publishing threads count at once

    def channel_opened(self) -> None:
        with self._lock:
            self.channels_opened += 1

    def wait(self, confirm: ConfirmChannel, timeout: float) -> BaseException | None:
        """Wait once for every confirm ``confirm`` owes, counted: None when all came, or
        the error that ended the wait (a nack, the timeout, the channel's or connection's)."""
        with self._lock:
            self.confirm_waits += 1
        try:
            confirm.wait(timeout)
        except Exception as exc:
            return exc
        return None


class ConfirmChannel:
    """A channel in confirm mode whose publishes do not wait; :meth:`wait` waits for all."""

    def __init__(self, transport_connection: Any, channel: Any) -> None:
        self.transport_connection = transport_connection
        """The py-amqp connection whose frames :meth:`wait` reads."""
        self.channel = channel
        self.channel.confirm_select()
        # py-amqp sets basic_publish per channel (to basic_publish_confirm, which waits
        # for the confirm, when the connection has confirm_publish); this one counts instead.
        self.channel.basic_publish = self._publish
        self.channel.events["basic_ack"].add(self._on_ack)
        self.channel.events["basic_nack"].add(self._on_nack)
        self.channel.events["basic_return"].add(self._on_return)
        self.next_tag = 1
        """The delivery tag RabbitMQ gives the next publish on this channel."""
        self._unsettled: set[int] = set()
        self._low = 1
        self.nacked: set[int] = set()
        self.returned: set[str] = set()
        """The ``message_id`` of messages RabbitMQ returned unroutable (``mandatory``):
        it acks them all the same, just after the return."""

    def still_open(self) -> bool:
        """Whether its connection is still open: a connection the broker closed since it
        was last used is found here, before any publish, by reading what waits on it
        without blocking (nothing to read: open)."""
        try:
            self.transport_connection.drain_events(timeout=0)
        except TimeoutError:
            return True
        except Exception:
            return False
        return bool(self.channel.is_open)  # a late frame was read

    def usable_on(self, transport_connection: Any) -> bool:
        """Still open on ``transport_connection``, every confirm received."""
        return (
            self.channel.is_open and not self._unsettled and self.transport_connection is transport_connection
        )

    def _publish(
        self,
        msg: Any,
        *,
        exchange: str = "",
        routing_key: str = "",
        mandatory: bool = False,
        immediate: bool = False,
        timeout: float | None = None,
        confirm_timeout: float | None = None,
    ) -> Any:
        """py-amqp's ``_basic_publish`` without its per-message poll for
        ``connection.blocked`` and socket-timeout switch (a run does both once): the
        same frames, a quarter less CPU per message."""
        tag = self.next_tag
        self._unsettled.add(tag)  # owed a confirm from here on: the frame may be out
        self.next_tag = tag + 1
        args = (0, exchange, routing_key, mandatory, immediate)
        return self.channel.send_method(BASIC_PUBLISH, "Bssbb", args, msg)

    @contextlib.contextmanager
    def one_write(self) -> Iterator[None]:
        """The frames of the publishes made inside written to the socket at once on
        leaving (one write for a run, not one per message), also when the run stops
        early: the messages published before the stop are owed confirms like the
        others. A failed write is the transport's error, as a publish's own would be."""
        transport = self.transport_connection.transport
        frames: list[bytes] = []
        # py-amqp writes each frame through ``transport._write`` from a buffer it reuses.
        own = transport._write
        transport._write = lambda data: frames.append(bytes(data))
        try:
            yield
        finally:
            transport._write = own
            if frames:
                transport.write(b"".join(frames))

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        for tag in self._settle(delivery_tag, multiple):
            self.nacked.add(tag)

    def _on_return(self, exc: Exception, exchange: str, routing_key: str, message: Any) -> None:
        message_id = getattr(message, "properties", {}).get("message_id")
        if message_id is not None:
            self.returned.add(str(message_id))

    def _settle(self, tag: int, multiple: bool) -> list[int]:
        if not multiple:
            self._unsettled.discard(tag)
            return [tag]
        settled = [t for t in range(self._low, tag + 1) if t in self._unsettled]
        self._unsettled.difference_update(settled)
        self._low = max(self._low, tag + 1)
        return settled

    def unsettled(self, tags: range) -> bool:
        return any(t in self._unsettled for t in tags)

    def wait(self, timeout: float) -> None:
        """Until every publish so far is confirmed (acked or nacked); TimeoutError after
        ``timeout`` seconds; the connection's or channel's error as it comes."""
        deadline = time.monotonic() + timeout
        while self._unsettled:
            if not self.channel.is_open:  # closed by the broker: no confirm is coming
                raise ConnectionError("RabbitMQ closed the channel before confirming its messages")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no confirm from RabbitMQ within {timeout:g}s")
            try:
                self.transport_connection.drain_events(timeout=remaining)
            except TimeoutError:
                continue  # the loop's deadline decides


def outcomes_of(
    confirm: ConfirmChannel, tags: list[range], waited: BaseException | None, ids: list[str] | None = None
) -> list[BaseException | None]:
    """Per published message (its delivery tags ``tags[i]``, its ``message_id``
    ``ids[i]`` when it was published ``mandatory``): None once acked, else why not
    (``waited``: what ended the confirm wait). Clears the channel's nacks and returns."""
    outcomes: list[BaseException | None] = []
    for index, published in enumerate(tags):
        if any(t in confirm.nacked for t in published):
            outcomes.append(MessageRefused(f"RabbitMQ refused the message (nack {published.start})"))
        elif confirm.unsettled(published):
            outcomes.append(waited or TimeoutError("no confirm from RabbitMQ"))
        elif ids is not None and ids[index] in confirm.returned:
            outcomes.append(MessageRefused("RabbitMQ returned the message: no queue is bound to its name"))
        else:
            outcomes.append(None)
    confirm.nacked.clear()
    confirm.returned.clear()
    return outcomes
