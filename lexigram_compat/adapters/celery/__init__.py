"""The Celery engine (``engine: celery``) on Redis and RabbitMQ; see docs/engines/celery.md."""

from lexigram_compat.adapters.celery.engine import CeleryEngine

__all__ = ["CeleryEngine"]
