"""kombu's Redis transport, except that no byte sequence on a queue's list reaches its parser unguarded.

Each item of a Celery queue's Redis list is kombu's JSON envelope of a message.
kombu parses it before any consumer sees it: bytes that are not JSON raise out
of the event loop and ``celery worker`` exits (``Unrecoverable error:
JSONDecodeError``); JSON that is not kombu's envelope fails building the
message and is lost. Here both become an envelope of our own making: its body
is the item's bytes, its content type :data:`UNDECODABLE_TYPE` (which Celery
refuses to decode, so the consumer's ``on_decode_error`` dead-letters it with
the bytes) and its :data:`REASON_HEADER` says what was wrong. The engine selects
this transport for ``redis://`` and ``unix://`` brokers (``broker_transport``).
A channel closed after its transport was collected fails with a connection error
(see :meth:`Channel._connparams`), never an error that stops the worker. The ack
of a message whose job succeeded records that success in the same Redis call
(:class:`QoS`, :mod:`.acking`), and the record of a delivery starts its attempt
in the same Redis call (:mod:`.prestart`).
"""

from __future__ import annotations

import base64
import logging
import uuid
from typing import Any

from kombu.transport import redis as kombu_redis
from kombu.transport import virtual
from kombu.utils.json import dumps
from redis.exceptions import ConnectionError as RedisConnectionError

from lexigram_compat.adapters.celery import acking, prestart
from lexigram_compat.adapters.redis_effects import RedisAck, RedisReserve

__all__ = ["REASON_HEADER", "UNDECODABLE_TYPE", "Channel", "QoS", "Transport", "undecodable_payload"]

log = logging.getLogger("lexigram_compat.celery")

UNDECODABLE_TYPE = "application/x-lexigram-undecodable"
REASON_HEADER = "x-lexigram-undecodable"


def undecodable_payload(raw: bytes, queue: str, reason: str) -> dict[str, Any]:
    """A kombu envelope carrying ``raw`` to ``queue``'s consumer, to be dead-lettered."""
    return {
        "body": base64.b64encode(raw).decode(),
        "content-encoding": "binary",
        "content-type": UNDECODABLE_TYPE,
        "headers": {REASON_HEADER: reason},
        "properties": {
            "body_encoding": "base64",
            "delivery_tag": str(uuid.uuid4()),
            "delivery_info": {"exchange": queue, "routing_key": queue},
            "delivery_mode": 2,
            "priority": 0,
        },
    }


def _is_kombu_envelope(payload: Any) -> bool:
    if not isinstance(payload, dict) or "body" not in payload:
        return False
    properties = payload.get("properties")
    return (
        isinstance(properties, dict)
        and "delivery_tag" in properties
        and isinstance(properties.get("delivery_info"), dict)
    )


def _raw_of(exc: BaseException) -> bytes | None:
    """The list item kombu failed to parse, from the error it raised."""
    if isinstance(exc, UnicodeDecodeError) and isinstance(exc.object, bytes):
        return exc.object
    doc = getattr(exc, "doc", None)  # json.JSONDecodeError keeps the whole text
    return doc.encode("utf-8", "surrogateescape") if isinstance(doc, str) else None


def _job_id(message: Any) -> str | None:
    """The task id of a delivered message: its ``id`` header (protocol 2), else the
    ``id`` of its body (protocol 1, already decoded by Celery); None when it has none."""
    headers = getattr(message, "headers", None)
    job_id = headers.get("id") if isinstance(headers, dict) else None
    if job_id is None and message is not None and acking.pending():
        try:
            body = message.payload
        except Exception:
            return None
        job_id = body.get("id") if isinstance(body, dict) else None
    return job_id if isinstance(job_id, str) else None


class QoS(kombu_redis.QoS):  # type: ignore[misc]
    """kombu's Redis ack emulation, except that the ack of a message whose job's
    success was left on this thread (:func:`.acking.defer`) is the ledger's
    ``complete`` with the ack inside, and the record of a delivered message whose
    attempt this process starts at once is the ledger's ``start`` with the record
    inside (:mod:`.prestart`): one Redis call instead of two each."""

    def append(self, message: Any, delivery_tag: str) -> None:
        if not prestart.start_with_delivery(message, lambda: self._reserve(message, delivery_tag)):
            super().append(message, delivery_tag)
            return
        virtual.QoS.append(self, message, delivery_tag)  # kombu's in-process bookkeeping

    def _reserve(self, message: Any, delivery_tag: str) -> RedisReserve:
        """kombu's unacked record of a delivered message (its ``append``), as arguments."""
        delivery = message.delivery_info
        prefix = self.channel.global_keyprefix
        value = dumps([message._raw, delivery["exchange"], delivery["routing_key"]])
        return RedisReserve(prefix + self.unacked_index_key, delivery_tag, prefix + self.unacked_key, value)

    def ack(self, delivery_tag: str) -> None:
        pending = acking.take(_job_id(self._delivered.get(delivery_tag)))
        if pending is None:
            super().ack(delivery_tag)
            return
        prefix = self.channel.global_keyprefix
        ack = RedisAck(prefix + self.unacked_index_key, delivery_tag, prefix + self.unacked_key, sorted=True)
        try:
            acking.record_with_retries(pending, ack)
        except Exception as exc:
            log.error("job %s ran, but the worker could not record its success: %s: %s; its message "
                      "goes back to the queue", pending.job_id, type(exc).__name__, exc)  # fmt: skip
            try:
                super().reject(delivery_tag, requeue=True)
                return
            except Exception:
                # Redis unreachable: the message comes back after the visibility timeout
                # (or when this worker stops); the job, found running, has that attempt
                # counted by the poison-pill rule, as after a worker lost.
                log.exception("job %s: could not requeue its message either", pending.job_id)
        virtual.QoS.ack(self, delivery_tag)  # this prefetch slot is free either way


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    """Delivers an unparsable list item as an undecodable message instead of raising,
    and acks through :class:`QoS`."""

    QoS = QoS

    def _connparams(self, asynchronous: bool = False) -> Any:
        if self.connection.client is None:
            # After a lost connection Celery collects the transport, then closes the
            # connection: closing its channel restores unacked messages through a new
            # pool of a transport that has no client any more (an AttributeError kills
            # the worker: "Unrecoverable error"; seen with remote control's channel).
            # A connection error instead: kombu ignores it there, and the messages
            # come back after the visibility timeout, as for any lost connection.
            raise RedisConnectionError("the broker connection was closed")
        return super()._connparams(asynchronous=asynchronous)

    def _brpop_read(self, **options: Any) -> bool:
        try:
            return bool(super()._brpop_read(**options))
        except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError: the parse of the item
            raw = _raw_of(exc)
            if raw is None or not self._queue_cycle.items:
                raise
            # kombu rotated the item's queue to the end of its cycle just before parsing.
            queue = self._queue_cycle.items[-1]
            log.error("queue %s: an item of its Redis list is not JSON; dead-lettering it", queue)
            self.connection._deliver(undecodable_payload(raw, queue, f"not JSON: {exc}"), queue)
            return True

    def _get(self, queue: str) -> Any:
        try:
            return super()._get(queue)
        except ValueError as exc:
            raw = _raw_of(exc)
            if raw is None:
                raise
            log.error("queue %s: an item of its Redis list is not JSON; dead-lettering it", queue)
            return undecodable_payload(raw, queue, f"not JSON: {exc}")


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    """kombu's Redis transport with :class:`Channel`, and JSON that is not kombu's
    envelope delivered as an undecodable message rather than lost."""

    Channel = Channel

    def _deliver(self, message: Any, queue: str) -> None:
        if not _is_kombu_envelope(message):
            log.error("queue %s: an item of its Redis list is not a kombu message; dead-lettering it", queue)
            reason = "JSON, but not a kombu message (no body, properties.delivery_tag and delivery_info)"
            message = undecodable_payload(dumps(message).encode(), queue, reason)
        super()._deliver(message, queue)
