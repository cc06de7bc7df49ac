"""Fixtures every test directory shares: the real servers (see ``tests/services.py``)."""

from __future__ import annotations

import pytest

from tests.services import Service, require_service


@pytest.fixture(scope="session")
def postgres_service() -> Service:
    """PostgreSQL (DSN of a database whose user may create databases)."""
    return require_service("postgres")


@pytest.fixture(scope="session")
def redis_service() -> Service:
    """Redis (URL without a db number: choose your own db or key prefix)."""
    return require_service("redis")


@pytest.fixture(scope="session")
def rabbitmq_service() -> Service:
    """RabbitMQ (URL of the default vhost: create your own vhost or unique queues)."""
    return require_service("rabbitmq")
