"""Dramatiq's RabbitMQ broker as the engine builds it (imports pika).

Kept apart from ``broker.py`` so the Redis engine never imports pika: the
``dramatiq`` extra installs Dramatiq's Redis side only, and
``dramatiq-rabbitmq`` adds pika.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from typing import Any

import pika  # type: ignore[import-untyped]
from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.common import dq_name, xq_name

from .messages import check_body

__all__ = ["LexigramRabbitmqBroker"]

log = logging.getLogger("lexigram_compat.dramatiq")


class _CheckingRabbitmqConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, except that a body which is no Dramatiq message
    (:func:`~.messages.check_body`) is rejected to the ``.XQ`` before Dramatiq
    decodes it: ``Message.decode`` accepts a string for ``options`` or a list for
    ``kwargs``, and the worker then breaks on them."""

    def __init__(self, broker: Any, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.iterator = self._checked(self.iterator)

    def _checked(self, deliveries: Iterator[tuple[Any, Any, Any]]) -> Iterator[tuple[Any, Any, Any]]:
        for method, properties, body in deliveries:
            if method is None:
                yield method, properties, body
                continue
            # Parsed once: Dramatiq's decode takes the checked fields (messages.CheckedDecoder).
            checked = check_body(body)
            if not isinstance(checked, str):
                yield method, properties, checked
                continue
            problem = checked
            log.error("queue %s: a message is no Dramatiq message (%s); dead-lettered",
                      self.queue_name, problem)  # fmt: skip
            self._nack(method.delivery_tag)  # type: ignore[no-untyped-call]
            yield None, None, None  # an idle tick: the consumer returns None


class LexigramRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker with the dead-letter TTL from config
    (``retention.dead_letter_seconds``) rather than a process-wide env var, and
    queues that earlier versions declared with another ``x-max-priority`` (255)
    used as they are."""

    def __init__(self, *, dead_message_ttl: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dead_message_ttl = dead_message_ttl
        """Milliseconds; None keeps dead letters until purged."""

    @property
    def consumer_class(self) -> type[_RabbitmqConsumer]:
        return _CheckingRabbitmqConsumer

    def _declare_xq_queue(self, queue_name: str) -> Any:
        ttl = {} if self.dead_message_ttl is None else {"x-message-ttl": self.dead_message_ttl}
        return self.channel.queue_declare(queue=xq_name(queue_name), durable=True, arguments=ttl)

    def _declare_queue(self, queue_name: str) -> Any:
        return self._keeping_priority(
            queue_name,
            lambda: RabbitmqBroker._declare_queue(self, queue_name),  # type: ignore[no-untyped-call]
        )

    def _declare_dq_queue(self, queue_name: str) -> Any:
        return self._keeping_priority(
            dq_name(queue_name),
            lambda: RabbitmqBroker._declare_dq_queue(self, queue_name),  # type: ignore[no-untyped-call]
        )

    def _keeping_priority(self, name: str, declare: Callable[[], Any]) -> Any:
        """``declare()``; when RabbitMQ refuses it only because the queue exists with
        another ``x-max-priority`` (PRECONDITION_FAILED), the queue as it is. Its
        levels still order the jobs: the engine's message priorities (0 to
        ``max_priority``) keep their order in any queue with priorities. A queue
        without priorities is still refused (the enqueue says so)."""
        try:
            return declare()
        except pika.exceptions.ChannelClosedByBroker as exc:
            text = str(exc)
            if exc.reply_code != 406 or "x-max-priority" not in text or "current is none" in text:
                raise
        del self.channel  # RabbitMQ closed it with the refusal
        log.warning(
            "RabbitMQ queue %s exists with another x-max-priority than %s (an earlier version "
            "declared 255 levels): used as it is; delete it once empty to get the cheaper levels",
            name,
            self.max_priority,
        )
        return self.channel.queue_declare(queue=name, passive=True)
