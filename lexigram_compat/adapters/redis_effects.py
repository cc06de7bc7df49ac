"""What a job-ledger call does on the broker in the same atomic step: push a new
job's message (:class:`RedisPush`), acknowledge a delivery (:class:`RedisAck`),
record a delivery as unacknowledged (:class:`RedisReserve`).
:meth:`RedisPush.spec` and :meth:`RedisAck.args` follow the ledger script's own arguments
(:mod:`lexigram_compat.adapters.redis_ledger`)."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RedisAck", "RedisPush", "RedisReserve"]


@dataclass(frozen=True)
class RedisPush:
    """A message to publish with a new job: ``HSET hash_key hash_field payload``
    (skipped when ``hash_key`` is empty), then push ``list_value`` on ``list_key``."""

    list_key: str
    list_value: str | bytes
    hash_key: str = ""
    hash_field: str = ""
    payload: str | bytes = ""
    left: bool = False
    keep_copy: bool = False
    """Keep ``list_value`` in the job's record until the job starts, so that
    :meth:`RedisLedgerCalls.reconcile` can push it again if it goes missing."""

    def spec(self) -> list[str]:
        """Where the message goes, as the script's ``create`` reads it from the job's
        JSON (the payload and the list value travel as arguments of their own)."""
        return [
            self.hash_key,
            self.hash_field,
            self.list_key,
            "l" if self.left else "r",
            "k" if self.keep_copy else "",
        ]


@dataclass(frozen=True)
class RedisAck:
    """A broker acknowledgement done with a state change: ``SREM set_key member``,
    and when it was there, ``HDEL hash_key member`` (Dramatiq's Redis ack); with
    ``sorted``, ``ZREM set_key member`` and ``HDEL hash_key member`` (kombu's Redis
    ack: its unacked index and unacked hash, as Celery on Redis uses them)."""

    set_key: str
    member: str
    hash_key: str
    sorted: bool = False

    def args(self) -> tuple[str, ...]:
        if self.sorted:
            return (self.set_key, self.member, self.hash_key, "z")
        return (self.set_key, self.member, self.hash_key)


@dataclass(frozen=True)
class RedisReserve:
    """A delivery recorded as unacknowledged with an attempt's start, as kombu's Redis
    transport records the messages it delivers: ``ZADD index_key <now> member`` and
    ``HSET hash_key member value`` (its unacked index and unacked hash)."""

    index_key: str
    member: str
    hash_key: str
    value: str | bytes

    def args(self) -> tuple[str | bytes, ...]:
        return (self.index_key, self.member, self.hash_key, self.value)
