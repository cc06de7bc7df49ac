"""The server fixtures fail under CI and skip elsewhere when a server is missing."""

from __future__ import annotations

import socket

import pytest

from tests.services import require_service


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_missing_server_fails_under_ci_saying_how_to_start_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEXIGRAM_TEST_REDIS_URL", f"redis://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception) as failed:
        require_service("redis")
    assert "Redis is not reachable at 127.0.0.1:" in str(failed.value)
    assert "redis-server" in str(failed.value)


def test_a_missing_server_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LEXIGRAM_TEST_AMQP_URL", f"amqp://guest:secret@127.0.0.1:{closed_port()}//")
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception) as skipped:
        require_service("rabbitmq")
    assert "RabbitMQ is not reachable" in str(skipped.value)
    assert "secret" not in str(skipped.value)


def test_a_listening_server_is_returned_with_a_redacted_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        monkeypatch.setenv("LEXIGRAM_TEST_POSTGRES_DSN", f"postgresql://app:hunter2@127.0.0.1:{port}/db")
        service = require_service("postgres")
    assert (service.host, service.port) == ("127.0.0.1", port)
    assert service.url.endswith(f":{port}/db")
    assert "hunter2" not in repr(service)
