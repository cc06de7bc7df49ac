"""The observation sink: what the corpus tasks, signal handlers and callers saw,
pushed to a Redis list outside the broker (``CORPUS_SINK_URL``, ``CORPUS_SINK_KEY``).

It is not a Celery import, so the import swap leaves it alone: real Celery and the
shim record through the same code. Each event is ``{"tag", "ev", "t", **data}``;
``t`` is ``time.time()`` where the event happened.
"""

from __future__ import annotations

import json
import os
import threading
import time
from typing import Any

import redis

__all__ = ["KEY_ENV", "URL_ENV", "read_events", "record"]

URL_ENV = "CORPUS_SINK_URL"
KEY_ENV = "CORPUS_SINK_KEY"

_local = threading.local()


def _client() -> redis.Redis:
    """One client per process and thread (a forked pool child makes its own)."""
    pid = os.getpid()
    client: redis.Redis | None = getattr(_local, "client", None)
    if client is None or getattr(_local, "pid", None) != pid:
        client = redis.Redis.from_url(os.environ[URL_ENV])
        _local.client, _local.pid = client, pid
    return client


def record(tag: str, ev: str, **data: Any) -> None:
    """Append one event (JSON values only) to this run's list."""
    event = {"tag": tag, "ev": ev, "t": time.time(), **data}
    _client().rpush(os.environ[KEY_ENV], json.dumps(event, sort_keys=True, default=repr))


def read_events(url: str, key: str) -> list[dict[str, Any]]:
    """Every event of the run so far, in push order."""
    client = redis.Redis.from_url(url)
    try:
        return [json.loads(item) for item in client.lrange(key, 0, -1)]
    finally:
        client.close()
