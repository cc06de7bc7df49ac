"""Pipelined publisher confirms for the Celery engine on RabbitMQ (its ``enqueue_many``
and its concurrent single enqueues, grouped: :class:`~lexigram_compat.adapters.publishing.GroupPublisher`).

kombu's ``confirm_publish`` makes py-amqp's ``basic_publish`` wait for each message's
confirm: a run of N messages waits N round trips. Here a run is published on one
channel in confirm mode without waiting (the message is still built and sent by
``app.send_task``, so its bytes are what a single enqueue sends), then every confirm
of the run is awaited at once: RabbitMQ numbers a confirm channel's publishes 1, 2, ...
and answers ``basic.ack``/``basic.nack`` with that number
(:class:`~lexigram_compat.adapters.amqp_confirms.ConfirmChannel`, shared with the Dramatiq
engine). A message counts as published only once acked; nacked or unanswered ones (the
wait timed out, the connection or channel failed) are the run's failures.

The confirm channel is opened on a connection of the app's kombu pool, held while
the run publishes, and kept with that connection for the next run only when every
confirm it was owed arrived; otherwise the channel is dropped, and the connection too
when the failure was not the channel's own (it may still owe frames).
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from kombu.common import maybe_declare
from kombu.exceptions import OperationalError

from lexigram_compat.adapters.amqp_confirms import ConfirmChannel, ConfirmStats, MessageRefused, outcomes_of

if TYPE_CHECKING:
    from celery import Celery
    from kombu import Connection, Producer

    from lexigram_compat.envelope import JobEnvelope

__all__ = ["MessageRefused", "PipelinedPublisher"]


CONNECT_RETRIES: dict[str, float] = {
    "max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5,
}  # fmt: skip
"""Reconnecting a pooled connection: as the single enqueue's ``send_task`` retries."""

Publish = Callable[["JobEnvelope", "Producer | None"], object]
"""Publishes one job's message with the given producer (``send_task(producer=...)``), or
(None) as ``send_task`` does by itself: its confirm awaited, a stale connection retried."""


class PipelinedPublisher:
    """Runs of Celery messages on confirm channels, one confirm wait per run."""

    def __init__(self, app: Celery, timeout: float) -> None:
        self.app = app
        self.timeout = timeout
        self.stats = ConfirmStats()
        self._channels: weakref.WeakKeyDictionary[Connection, ConfirmChannel] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def publish_run(self, publish: Publish, run: Sequence[JobEnvelope]) -> list[BaseException | None]:
        """Publish ``run`` in order on one confirm channel, then wait for its confirms.
        Per job: None once acked, else the error that kept it unconfirmed (a nack, the
        wait's timeout, the channel's or connection's error); the jobs after a failed
        publish are not published and get its error. A run of one is published as
        ``send_task`` does by itself, which costs less than a confirm channel's run of one
        (a single enqueue made alone)."""
        if len(run) == 1:
            try:
                publish(run[0], None)
            except Exception as exc:
                return [exc]
            return [None]
        with self.app.pool.acquire(block=True, timeout=self.timeout) as client:
            try:
                confirm = self._channel_for(client)
            except Exception as exc:
                return [exc] * len(run)
            outcomes, healthy = self._run(client, confirm, publish, run)
            with self._lock:
                if healthy and _usable(confirm, client):
                    self._channels[client] = confirm
                else:
                    self._channels.pop(client, None)
                    _drop(confirm, client)
        return outcomes

    def _channel_for(self, client: Connection) -> ConfirmChannel:
        with self._lock:
            confirm = self._channels.pop(client, None)
        if confirm is not None and _usable(confirm, client):
            if confirm.still_open():
                return confirm
            client.collect()
        for attempt in range(2):  # a pooled connection may be stale: one fresh try
            try:
                # A pooled connection kombu closed after a failure comes back closed.
                client.ensure_connection(**CONNECT_RETRIES, timeout=self.timeout)
                # A new channel: the pool's default one is left as it is.
                confirm = ConfirmChannel(client.connection, client.channel())
            except (OperationalError, *client.recoverable_connection_errors):
                client.collect()
                if attempt:
                    raise
            else:
                self.stats.channel_opened()
                return confirm
        raise AssertionError("unreachable")

    def _run(
        self, client: Connection, confirm: ConfirmChannel, publish: Publish, run: Sequence[JobEnvelope]
    ) -> tuple[list[BaseException | None], bool]:
        producer = self.app.amqp.Producer(confirm.channel, auto_declare=False)
        queues = self.app.amqp.queues
        tags: list[range] = []
        stopped: BaseException | None = None
        try:
            # Queues first: a refused declare fails the run before any of it is published.
            for name in dict.fromkeys(e.queue for e in run):
                maybe_declare(queues[name], confirm.channel)
            # Every write of the run may wait PUBLISH_TIMEOUT (as each publish's own would).
            with confirm.transport_connection.transport.having_timeout(self.timeout), confirm.one_write():
                for envelope in run:
                    first = confirm.next_tag
                    publish(envelope, producer)
                    tags.append(range(first, confirm.next_tag))
        except Exception as exc:
            stopped = exc
        waited: BaseException | None = None
        if isinstance(stopped, (OperationalError, *client.connection_errors)):
            waited = stopped  # the connection broke: no confirm is coming
        elif tags:
            waited = self.stats.wait(confirm, self.timeout)
        outcomes = outcomes_of(confirm, tags, waited)
        outcomes.extend([stopped] * (len(run) - len(tags)))
        return outcomes, waited is None


def _usable(confirm: ConfirmChannel, client: Connection) -> bool:
    return client.connected and confirm.usable_on(client.connection)


def _drop(confirm: ConfirmChannel, client: Connection) -> None:
    """Let go of a confirm channel that may still owe confirms: nothing to do when the
    broker closed it; otherwise its connection goes too (a channel close would wait on
    a broker that may not answer, and a late confirm must not reach a new channel)."""
    if confirm.channel.is_open:
        client.collect()
