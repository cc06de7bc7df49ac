"""Building the Dramatiq broker, with all its middleware, before any actor exists.

Dramatiq checks actor options against the broker's middleware when an actor is
declared, and the ``dramatiq`` CLI consumes only what was declared on the global
broker when the module was imported. So the app builds the broker, its
middleware and every actor in ``TasksApp.__init__`` (``Engine.attach``), and
import order never matters.

Middleware: Dramatiq's defaults minus ``Retries`` (the facade's retry policy
replaces it: the actor re-enqueues or dead-letters by itself), ``TimeLimit``
(``execute`` bounds every attempt with the task's ``timeout`` or
``worker.default_timeout``: one deadline, not two that disagree) and
``AgeLimit``; plus ``AsyncIO`` (tasks run on its event loop), ``CurrentMessage``
and :class:`~.middleware.LexigramMiddleware`.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import redis
from dramatiq import Broker
from dramatiq.brokers.redis import RedisBroker, _RedisConsumer
from dramatiq.errors import ConnectionClosed, DecodeError
from dramatiq.middleware import AsyncIO, Callbacks, CurrentMessage, Middleware, Pipelines

from lexigram_compat.adapters.dramatiq.messages import check_body, install_checked_decoder, with_failure
from lexigram_compat.adapters.dramatiq.orphans import dead_letter_misshapen, dead_letter_orphans
from lexigram_compat.adapters.redis_ledger import RedisAck
from lexigram_compat.envelope import utcnow
from lexigram_compat.errors import EngineNotFoundError

from .settings import DramatiqSettings

if TYPE_CHECKING:
    from dramatiq.broker import Consumer

__all__ = ["LexigramRedisBroker", "build_broker"]

log = logging.getLogger("lexigram_compat.dramatiq")


COMPLETED_ATTRIBUTE = "_lexigram_completed"
"""Set on a delivered message whose job succeeded: its ack also records the success."""
REQUEUE_ATTRIBUTE = "_lexigram_requeue"
"""Set on a delivered message the worker could not start (its job ledger unreachable):
its "ack" puts it back on its queue instead, retried by Dramatiq until Redis answers."""
NACK_FAILURE_ATTRIBUTE = "_lexigram_nack_failure"
"""Set on a delivered message the worker hands to Dramatiq's nack: its ``FailureInfo``,
stored with the message so its dead letter says why (not a guess when it is read)."""


class _LenientRedisConsumer(_RedisConsumer):
    """Dramatiq's Redis consumer, except that bytes which are no message go to
    the dead letters instead of stopping the consumer (the stock one raises, and
    the id stays claimed by this worker until it dies), that the ack of a
    job that succeeded records the success in the same Redis call, that the
    "ack" of a delivery the worker could not start puts it back on its queue, and
    that a nack keeps the worker's reason with the dead-lettered message."""

    def nack(self, message: Any) -> None:
        failure = getattr(message, NACK_FAILURE_ATTRIBUTE, None)
        if failure is not None:
            broker: LexigramRedisBroker = self.broker
            rid = message.options["redis_message_id"]
            body = with_failure(message, failure, utcnow())
            try:
                broker.client.hset(f"{broker.namespace}:{self.queue_name}.msgs", rid, body)
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        super().nack(message)  # type: ignore[no-untyped-call]

    def ack(self, message: Any) -> None:
        broker: LexigramRedisBroker = self.broker
        if getattr(message, REQUEUE_ATTRIBUTE, False):
            try:
                # Dramatiq's requeue: from this worker's acks back to the queue, body kept.
                broker.do_requeue(self.queue_name, message.options["redis_message_id"])
            except redis.ConnectionError as exc:
                raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
            self.queued_message_ids.discard(message.message_id)
            return
        completed = getattr(message, COMPLETED_ATTRIBUTE, None)
        if completed is None or broker.complete_and_ack is None:
            super().ack(message)  # type: ignore[no-untyped-call]
            return
        rid = message.options["redis_message_id"]
        acks = f"{broker.namespace}:__acks__.{broker.broker_id}.{self.queue_name}"
        messages = f"{broker.namespace}:{self.queue_name}.msgs"
        try:
            broker.complete_and_ack(message.message_id, completed[0], RedisAck(acks, rid, messages))
        except redis.ConnectionError as exc:
            raise ConnectionClosed(exc) from None  # type: ignore[no-untyped-call]
        finally:
            self.queued_message_ids.discard(message.message_id)

    def __next__(self) -> Any:
        while True:
            try:
                return super().__next__()  # type: ignore[no-untyped-call]
            except DecodeError as exc:
                self._dead_letter_undecodable(exc)

    def _dead_letter_undecodable(self, exc: DecodeError) -> None:
        raw = getattr(exc, "data", None)
        broker: RedisBroker = self.broker
        client = broker.client
        acks = f"{broker.namespace}:__acks__.{broker.broker_id}.{self.queue_name}"
        messages = f"{broker.namespace}:{self.queue_name}.msgs"
        for rid in client.smembers(acks):
            if raw is None or client.hget(messages, rid) == raw:
                log.error(
                    "queue %s: a message could not be decoded; dead-lettered as %s", self.queue_name, rid
                )
                broker.do_nack(self.queue_name, rid.decode() if isinstance(rid, bytes) else rid)
                return


class LexigramRedisBroker(RedisBroker):
    """Dramatiq's Redis broker with a consumer that survives undecodable bytes,
    and a maintenance pass a worker can force (:meth:`maintain`)."""

    complete_and_ack: Callable[[str, Any, RedisAck], Any] | None = None
    """Set by the engine when the job ledger lives in the broker's Redis."""

    _forcing = threading.local()

    @property
    def consumer_class(self) -> type[Consumer]:
        return _LenientRedisConsumer

    def do_fetch(self, queue_name: str, prefetch: int) -> list[bytes | None]:
        """Dramatiq's fetch, with raw bytes found on the list and bodies that are no
        Dramatiq message dead-lettered (see ``orphans``)."""
        fetched: list[bytes | None] = self._dispatch("fetch")(queue_name, prefetch)  # type: ignore[no-untyped-call]
        if any(body is None for body in fetched):
            dead_letter_orphans(self, queue_name)
            fetched = [body for body in fetched if body is not None]
        # Each body is parsed once: checked here, its fields then taken by Dramatiq's
        # decode (messages.CheckedDecoder).
        bodies: list[bytes | None] = []
        misshapen: dict[bytes, str] = {}
        for body in fetched:
            checked = check_body(body) if body else body
            if isinstance(checked, str):
                assert body is not None
                misshapen[body] = checked
            else:
                bodies.append(checked)
        if misshapen:
            dead_letter_misshapen(self, queue_name, misshapen)
        return bodies

    def _should_do_maintenance(self, command: str) -> int:
        if getattr(self._forcing, "on", False):
            return 1
        return int(super()._should_do_maintenance(command))

    def maintain(self) -> None:
        """Heartbeat this broker's worker and run Dramatiq's maintenance on every
        declared queue (and delay queue) now: dead workers' messages go back to
        their queues, expired dead letters go. Dramatiq itself does this only by
        chance (``maintenance_chance``), and a worker whose prefetch is full
        fetches nothing, so sends no heartbeat, until a job finishes."""
        queues = sorted(self.get_declared_queues() | self.get_declared_delay_queues())
        self._forcing.on = True
        try:
            for queue in queues:
                self.do_qsize(queue)
        finally:
            self._forcing.on = False


RABBITMQ_MAX_PRIORITY = 10
"""``x-max-priority`` of the RabbitMQ queues the engine declares: RabbitMQ keeps a
sub-queue per level and advises at most 10 (255 levels cost it 1.2-1.7 ms per job)."""
_LEVEL_STARTS = (0, 1, 2, 3, 4, 5, 6, 10, 11, 20, 21)
"""The first task priority of each RabbitMQ level 0..10: 0-5 are their own levels
(LOW 0, NORMAL 5), then 6-9, HIGH 10, 11-19, CRITICAL 20, and 21-255 share one."""


def rabbitmq_priority(priority: int) -> int:
    """The message priority for a job of ``priority`` (0-255): the same order in
    :data:`RABBITMQ_MAX_PRIORITY` + 1 levels (never a higher job after a lower one;
    priorities within one level go by arrival)."""
    return bisect.bisect_right(_LEVEL_STARTS, priority) - 1


def build_broker(settings: DramatiqSettings, extra_middleware: list[Middleware]) -> Broker:
    """The broker for ``settings`` with the engine's middleware (nothing connects yet)."""
    install_checked_decoder()
    middleware: list[Middleware] = [
        Callbacks(),
        Pipelines(),
        AsyncIO(),
        CurrentMessage(),
        *extra_middleware,
    ]
    if settings.broker == "redis":
        return LexigramRedisBroker(  # type: ignore[no-untyped-call]
            url=settings.url,
            middleware=middleware,
            namespace=settings.namespace,
            heartbeat_timeout=settings.heartbeat_timeout_ms,
            dead_message_ttl=settings.dead_message_ttl_ms,
            maintenance_chance=settings.maintenance_chance,
        )
    # Imported here: Dramatiq's RabbitMQ broker needs pika (and the engine's publisher
    # py-amqp), which a Redis-only install (lexigram-compat[dramatiq]) does not have.
    try:
        from . import rabbitmq_confirms  # noqa: F401 - py-amqp publishes: missing, the same answer
        from .rabbitmq_broker import LexigramRabbitmqBroker
    except ModuleNotFoundError as exc:
        raise EngineNotFoundError(
            f"the dramatiq-rabbitmq engine needs the module {exc.name!r}, which is not installed",
            hint="pip install 'lexigram-compat[dramatiq-rabbitmq]'",
        ) from exc
    return LexigramRabbitmqBroker(
        url=settings.url,
        middleware=middleware,
        confirm_delivery=True,
        max_priority=RABBITMQ_MAX_PRIORITY,
        dead_message_ttl=settings.rabbitmq_dead_message_ttl_ms,
    )
