"""Dramatiq's RabbitMQ broker as the engine builds it (imports pika).

Kept apart from ``broker.py`` so the Redis engine never imports pika: the
``dramatiq`` extra installs Dramatiq's Redis side only, and
``dramatiq-rabbitmq`` adds pika.
"""

from __future__ import annotations

from typing import Any

from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.common import xq_name

__all__ = ["LexigramRabbitmqBroker"]


class LexigramRabbitmqBroker(RabbitmqBroker):
    """Dramatiq's RabbitMQ broker with the dead-letter TTL from config
    (``retention.dead_letter_seconds``) rather than a process-wide env var."""

    def __init__(self, *, dead_message_ttl: int | None, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.dead_message_ttl = dead_message_ttl
        """Milliseconds; None keeps dead letters until purged."""

    def _declare_xq_queue(self, queue_name: str) -> Any:
        ttl = {} if self.dead_message_ttl is None else {"x-message-ttl": self.dead_message_ttl}
        return self.channel.queue_declare(queue=xq_name(queue_name), durable=True, arguments=ttl)
