"""Malformed broker URLs are refused when the config is validated, naming the key and the fix."""

from __future__ import annotations

import pytest

from lexigram_compat import ConfigurationError, TaskConfig

SECRET = "Pw-never-shown-42"


def problem_of(backend: dict[str, object]) -> str:
    with pytest.raises(ConfigurationError) as info:
        TaskConfig.from_dict({"tasks": {"backend": backend}}, environ={})
    return str(info.value)


@pytest.mark.parametrize(
    ("backend", "key", "fix"),
    [
        (
            {"type": "redis", "redis_url": "127.0.0.1:6379"},
            "tasks.backend.redis_url",
            "redis://127.0.0.1:6379",
        ),
        ({"type": "redis", "redis_url": "http://cache:6379/0"}, "tasks.backend.redis_url", "redis://"),
        ({"type": "redis", "redis_url": "redis://cache:notaport/0"}, "tasks.backend.redis_url", "port"),
        ({"type": "amqp", "amqp_url": "guest:guest@mq:5672//"}, "tasks.backend.amqp_url", "amqp://"),
        ({"type": "amqp", "amqp_url": "redis://mq:5672//"}, "tasks.backend.amqp_url", "amqp://"),
        (
            {"type": "postgres", "postgres_dsn": "mysql://db/app"},
            "tasks.backend.postgres_dsn",
            "postgresql://",
        ),
        ({"type": "postgres", "postgres_dsn": "just some words"}, "tasks.backend.postgres_dsn", "host="),
        ({"type": "redis", "state_url": "cache:6379"}, "tasks.backend.state_url", "redis://"),
    ],
)
def test_a_malformed_url_is_refused_naming_the_key_and_the_fix(
    backend: dict[str, object], key: str, fix: str
) -> None:
    message = problem_of(backend)
    assert key in message
    assert fix in message


def test_the_refusal_never_shows_the_password() -> None:
    message = problem_of({"type": "redis", "redis_url": f"http://:{SECRET}@cache:6379"})
    assert "tasks.backend.redis_url" in message
    assert SECRET not in message


@pytest.mark.parametrize(
    "backend",
    [
        {"type": "redis", "redis_url": "redis://:pw@cache:6379/0"},
        {"type": "redis", "redis_url": "rediss://cache:6380/0?ssl_cert_reqs=none"},
        {"type": "redis", "redis_url": "unix:///run/redis.sock?db=1"},
        {"type": "redis", "redis_url": "sentinel://:pw@s1:26379;sentinel://:pw@s2:26379"},
        {"type": "amqp", "amqp_url": "amqps://u:p@mq:5671/vhost"},
        {"type": "amqp", "amqp_url": "pyamqp://u:p@mq1//;pyamqp://u:p@mq2//"},
        {"type": "postgres", "postgres_dsn": "postgres://u@db/app?password=pw"},
        {"type": "postgres", "postgres_dsn": "host=db port=5432 dbname=app password='a b'"},
        {"type": "postgres", "postgres_dsn": "postgresql:///app?host=/run/postgresql"},
    ],
)
def test_every_supported_form_is_accepted(backend: dict[str, object]) -> None:
    TaskConfig.from_dict({"tasks": {"backend": backend}}, environ={})
