"""Dramatiq's RabbitMQ broker as the engine builds it (imports pika).

Kept apart from ``broker.py`` so the Redis engine never imports pika: the
``dramatiq`` extra installs Dramatiq's Redis side only, and
``dramatiq-rabbitmq`` adds pika.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

from dramatiq.brokers.rabbitmq import RabbitmqBroker, _RabbitmqConsumer
from dramatiq.common import xq_name

from .messages import message_problem

__all__ = ["LexigramRabbitmqBroker"]

log = logging.getLogger("lexigram_compat.dramatiq")


class _CheckingRabbitmqConsumer(_RabbitmqConsumer):
    """Dramatiq's RabbitMQ consumer, except that a body which is no Dramatiq message
    (:func:`~.messages.message_problem`) is rejected to the ``.XQ`` before Dramatiq
    decodes it: ``Message.decode`` accepts a string for ``options`` or a list for
    ``kwargs``, and the worker then breaks on them."""

    def __init__(self, broker: Any, queue_name: str, prefetch: int, timeout: int) -> None:
        super().__init__(broker, queue_name, prefetch, timeout)  # type: ignore[no-untyped-call]
        self.iterator = self._checked(self.iterator)

    def _checked(self, deliveries: Iterator[tuple[Any, Any, Any]]) -> Iterator[tuple[Any, Any, Any]]:
        for method, properties, body in deliveries:
            problem = message_problem(body) if method is not None else None
            if problem is None:
                yield method, properties, body
                continue
            log.error("queue %s: a message is no Dramatiq message (%s); dead-lettered",
                      self.queue_name, problem)  # fmt: skip
            self._nack(method.delivery_tag)  # type: ignore[no-untyped-call]
            yield None, None, None  # an idle tick: the consumer returns None


class LexigramRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker with the dead-letter TTL from config
    (``retention.dead_letter_seconds``) rather than a process-wide env var."""

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
