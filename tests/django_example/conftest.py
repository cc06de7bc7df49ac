"""A shop per test: a copy of ``examples/celery_django`` with its own database (created on
the shared PostgreSQL and dropped after), RabbitMQ queue (in this process's vhost) and
Redis db 9 key prefix."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest

from tests.conformance.engines.celery import _session_vhost
from tests.services import Service

from .shop import Shop, create_database, drop_database, new_shop


@pytest.fixture
def shop(
    tmp_path: Path, postgres_service: Service, rabbitmq_service: Service, redis_service: Service
) -> Iterator[Shop]:
    amqp = urlsplit(rabbitmq_service.url)
    amqp_url = urlunsplit((amqp.scheme, amqp.netloc, f"/{_session_vhost()}", "", ""))
    redis = urlsplit(redis_service.url)
    redis_url = urlunsplit((redis.scheme, redis.netloc, "/9", "", ""))
    found = new_shop(tmp_path, postgres_service.url, amqp_url, redis_url)
    create_database(found)
    try:
        found.manage("migrate", "--no-input")
        yield found
    finally:
        drop_database(found)
