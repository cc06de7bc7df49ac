"""Dead letters in Dramatiq's own ``<queue>.XQ`` queues, on Redis and RabbitMQ.

Writing (worker side, sync): the failed message, with its failure in
``options["lexigram_failure"]``, goes to ``<queue>.XQ`` before the delivery is
acked, so a crash in between duplicates a letter but never loses the job.
Messages Dramatiq dead-letters by itself (an actor unknown to the worker, bytes
that are no message) land there too, without a failure; the reason is derived
when they are read (:func:`~.messages.letter_of`).

Reading (producer side, async): list, get, remove, purge and trim over every
``.XQ`` queue of the app. The broker expires letters by itself after
``retention.dead_letter_seconds`` (Redis: the broker's ``dead_message_ttl``;
RabbitMQ: the ``.XQ`` queue's ``x-message-ttl``; logged when the engine
connects); what else retention drops is decided, and logged, by the core
(:func:`lexigram_compat.dead_letters.enforce_retention`).
"""

from __future__ import annotations

import abc
import asyncio
import builtins
import hashlib
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from lexigram_compat.engine_contract import DeadLetterStore
from lexigram_compat.envelope import utcnow

from .messages import FAILURE_OPTION, failure_option, letter_of, retry_message, xq_name

if TYPE_CHECKING:
    import redis.asyncio
    from dramatiq import Broker, Message

    from lexigram_compat.outcomes import FailureInfo
    from lexigram_compat.queue import DeadLetter

    from .broker import LexigramRedisBroker
    from .rabbitmq_broker import LexigramRabbitmqBroker

__all__ = [
    "DeadLetterWriter",
    "RabbitmqXQDeadLetters",
    "RedisXQDeadLetters",
    "XQDeadLetters",
]


def _letter_bytes(message: Message[Any], letter: DeadLetter, failure: FailureInfo) -> bytes:
    dead = retry_message(message, letter.attempts, None)
    meta = dead.options.get("lexigram") or {}
    meta.pop("run_at", None)
    options = {FAILURE_OPTION: failure_option(failure, letter.attempts, letter.failed_at)}
    return bytes(dead.copy(options=options).encode())


class DeadLetterWriter:
    """Puts failed messages on ``<queue>.XQ`` (worker side, sync)."""

    def __init__(self, broker: Broker, kind: str) -> None:
        self.broker = broker
        self.kind = kind

    def write(self, message: Message[Any], letter: DeadLetter, failure: FailureInfo) -> None:
        """Keep ``message`` as the dead letter ``letter`` (built by the settle step)."""
        payload = _letter_bytes(message, letter, failure)
        queue = message.queue_name.removesuffix(".DQ")
        if self.kind == "redis":
            self._write_redis(queue, payload, letter.failed_at)
        else:
            self._write_rabbitmq(queue, payload)

    def _write_redis(self, queue: str, payload: bytes, failed_at: datetime) -> None:
        broker: LexigramRedisBroker = self.broker  # type: ignore[assignment]
        key = f"{broker.namespace}:{xq_name(queue)}"
        rid = str(uuid.uuid4())
        with broker.client.pipeline(transaction=True) as pipe:
            pipe.zadd(key, {rid: int(failed_at.timestamp() * 1000)})
            pipe.hset(f"{key}.msgs", rid, payload)
            pipe.execute()

    def _write_rabbitmq(self, queue: str, payload: bytes) -> None:
        import pika  # type: ignore[import-untyped]

        broker: LexigramRabbitmqBroker = self.broker  # type: ignore[assignment]
        broker.declare_queue(queue, ensure=True)
        try:
            broker.channel.basic_publish(
                exchange="",
                routing_key=xq_name(queue),
                body=payload,
                properties=pika.BasicProperties(delivery_mode=2),
                mandatory=True,
            )
        except pika.exceptions.UnroutableError:
            # The .XQ queue was deleted: declare the queue's set again next time.
            broker.queues_pending.add(queue)
            raise
        except (pika.exceptions.AMQPConnectionError, pika.exceptions.AMQPChannelError):
            del broker.connection  # a new connection and channel next time
            raise


class XQDeadLetters(DeadLetterStore):
    """The neutral dead-letter API over ``.XQ`` queues; subclasses read and delete."""

    @abc.abstractmethod
    async def _all(self) -> builtins.list[tuple[DeadLetter, Any]]:
        """Every letter with a handle to delete it."""

    @abc.abstractmethod
    async def _delete(self, handles: Sequence[Any]) -> int:
        """Delete these letters; return how many were there."""

    async def _newest_first(self) -> builtins.list[tuple[DeadLetter, Any]]:
        return sorted(await self._all(), key=lambda item: item[0].failed_at, reverse=True)

    async def list(self, limit: int, offset: int, task_name: str | None) -> builtins.list[DeadLetter]:
        letters = [letter for letter, _ in await self._newest_first()]
        chosen = [d for d in letters if task_name in (None, d.task_name)]
        return chosen[offset : offset + limit]

    async def get(self, job_id: str) -> DeadLetter | None:
        return next((letter for letter, _ in await self._newest_first() if letter.job_id == job_id), None)

    async def remove(self, job_id: str) -> bool:
        handles = [handle for letter, handle in await self._all() if letter.job_id == job_id]
        return bool(handles) and await self._delete(handles[:1]) > 0

    async def purge_all(self, older_than: datetime | None) -> int:
        chosen = [
            handle
            for letter, handle in await self._all()
            if older_than is None or letter.failed_at < older_than
        ]
        return await self._delete(chosen) if chosen else 0

    async def count(self) -> int:
        return len(await self._all())

    async def trim(self, keep: int) -> builtins.list[str]:
        over = (await self._newest_first())[keep:]
        if over:
            await self._delete([handle for _, handle in over])
        return [letter.job_id for letter, _ in over]


class RedisXQDeadLetters(XQDeadLetters):
    """``<namespace>:<queue>.XQ`` (a zset of ids scored by time of death) and
    ``<...>.XQ.msgs`` (a hash of id → message), as Dramatiq's Redis broker keeps them."""

    def __init__(
        self,
        client: redis.asyncio.Redis,
        namespace: str,
        queues: Sequence[str] | None = None,
    ) -> None:
        self.client = client
        self.namespace = namespace
        self.queues = None if queues is None else sorted(set(queues))
        """The app's queues, whose ``.XQ`` keys are read (None: SCAN the namespace)."""

    async def _xq_keys(self) -> list[str]:
        if self.queues is not None:
            return [f"{self.namespace}:{queue}.XQ" for queue in self.queues]
        keys = []
        async for key in self.client.scan_iter(match=f"{self.namespace}:*.XQ", count=500):
            keys.append(key.decode() if isinstance(key, bytes) else key)
        return sorted(keys)

    async def _all(self) -> builtins.list[tuple[DeadLetter, Any]]:
        out: builtins.list[tuple[DeadLetter, Any]] = []
        for key in await self._xq_keys():
            queue = key[len(self.namespace) + 1 : -len(".XQ")]
            entries: list[Any] = await self.client.zrange(key, 0, -1, withscores=True)
            if not entries:
                continue
            rids = [rid for rid, _ in entries]
            payloads: list[Any] = await self.client.hmget(f"{key}.msgs", rids)
            for (rid, score), raw in zip(entries, payloads, strict=True):
                if raw is None:
                    continue
                rid_text = rid.decode() if isinstance(rid, bytes) else str(rid)
                failed_at = datetime.fromtimestamp(score / 1000, UTC)
                letter = letter_of(bytes(raw), rid_text, queue, failed_at, broker_time=True)
                out.append((letter, (key, rid)))
        return out

    async def _delete(self, handles: Sequence[Any]) -> int:
        removed = 0
        for key, rid in handles:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.zrem(key, rid)
                pipe.hdel(f"{key}.msgs", rid)
                gone, _ = await pipe.execute()
            removed += int(gone)
        return removed


class RabbitmqXQDeadLetters(XQDeadLetters):
    """``<queue>.XQ`` queues on RabbitMQ, read with ``basic_get`` and given back
    unacknowledged (closing the channel requeues them in place); deleting acks."""

    def __init__(self, url: str, queues: Sequence[str]) -> None:
        self._url = url
        self.queues = list(queues)
        self._lock = asyncio.Lock()

    async def _all(self) -> builtins.list[tuple[DeadLetter, Any]]:
        async with self._lock:
            return await asyncio.to_thread(self._scan, None)

    async def _delete(self, handles: Sequence[Any]) -> int:
        async with self._lock:
            return len(await asyncio.to_thread(self._scan, {h for h in handles}))

    def _scan(self, delete: set[Any] | None) -> Any:
        """Read every letter (``delete`` None) or ack those whose handle is in ``delete``."""
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self._url))
        found: builtins.list[tuple[DeadLetter, Any]] = []
        deleted: builtins.list[Any] = []
        try:
            for queue in self.queues:
                channel = connection.channel()
                try:
                    channel.queue_declare(queue=xq_name(queue), passive=True)
                except pika.exceptions.ChannelClosedByBroker:
                    continue  # never declared: nothing died there
                seen: dict[str, int] = {}
                while True:
                    method, properties, body = channel.basic_get(queue=xq_name(queue), auto_ack=False)
                    if method is None:
                        break
                    letter = letter_of(body, _raw_id(body), queue, _death_time(properties))
                    # Identical letters (same id) are told apart by their order in the queue.
                    nth = seen[letter.job_id] = seen.get(letter.job_id, -1) + 1
                    handle = (queue, letter.job_id, nth)
                    if delete is not None and handle in delete:
                        channel.basic_ack(method.delivery_tag)
                        deleted.append(handle)
                    else:
                        found.append((letter, handle))
                channel.close()  # the unacked rest goes back, in order
        finally:
            connection.close()
        return deleted if delete is not None else found


def _raw_id(body: bytes) -> str:
    """The id of a letter whose bytes are no message (stable across reads)."""
    return "undecodable-" + hashlib.sha256(body).hexdigest()[:16]


def _death_time(properties: Any) -> datetime:
    deaths = (getattr(properties, "headers", None) or {}).get("x-death") or []
    when = deaths[0].get("time") if deaths and isinstance(deaths[0], dict) else None
    if isinstance(when, datetime):
        return when if when.tzinfo else when.replace(tzinfo=UTC)
    return utcnow()
