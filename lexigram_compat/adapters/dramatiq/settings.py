"""The Dramatiq engine's settings: the neutral config mapped onto Dramatiq's knobs.

| neutral setting                   | Dramatiq                                            |
|-----------------------------------|-----------------------------------------------------|
| ``worker.lease_seconds``          | Redis broker ``heartbeat_timeout`` (crash recovery) |
| ``worker.heartbeat_interval``     | Redis: heartbeat + forced maintenance period        |
| ``retention.dead_letter_seconds`` | Redis ``dead_message_ttl`` / RabbitMQ ``.XQ`` TTL   |
| ``retention.completed_seconds``   | TTL of finished job records in the job ledger       |
| ``worker.poll_interval``          | the worker's ``worker_timeout`` (idle poll)         |
| ``worker.worker_count``           | ``dramatiq -p``                                     |
| ``worker.max_concurrent_tasks``   | ``dramatiq -t``                                     |
| ``worker.shutdown_timeout``       | running jobs' grace on SIGTERM, then given back     |

Engine-only options live under ``tasks.extra.dramatiq``: ``namespace`` (Redis
key namespace of the broker and the job ledger, default ``dramatiq``) and
``maintenance_chance`` (per million broker calls, how often the Redis broker
requeues the messages of dead workers and expires dead letters; default 1000,
Dramatiq's own).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from lexigram_compat.errors import ConfigurationError

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["NEVER_MS", "DramatiqSettings"]

NEVER_MS = 100 * 365 * 86_400_000
""""Keep until purged" as a TTL in milliseconds (a hundred years)."""
RABBITMQ_MAX_TTL_MS = 2**32 - 1
_NAMESPACE = re.compile(r"[A-Za-z0-9_.:-]{1,100}")
_KNOWN = ("namespace", "maintenance_chance")


@dataclass(frozen=True)
class DramatiqSettings:
    """Everything the engine reads from config, checked once."""

    broker: str
    """``redis`` or ``amqp``."""
    url: str = field(repr=False)
    """The broker URL (a secret: never logged, not in the repr)."""
    state_url: str | None = field(repr=False)
    """The Redis URL of the job ledger (the broker's on Redis; not in the repr)."""
    namespace: str
    maintenance_chance: int
    heartbeat_timeout_ms: int
    dead_message_ttl_ms: int
    completed_ttl: float
    poll_interval_ms: int
    shutdown_timeout: float
    heartbeat_interval: float = 1.0
    """Seconds between a Redis worker's heartbeats and maintenance passes
    (``worker.heartbeat_interval``, or ``lease_seconds / 3``)."""

    @property
    def rabbitmq_dead_message_ttl_ms(self) -> int | None:
        """The ``.XQ`` queues' ``x-message-ttl`` (None: no expiry)."""
        return None if self.dead_message_ttl_ms == NEVER_MS else self.dead_message_ttl_ms

    @property
    def state_prefix(self) -> str:
        """Key prefix of the job ledger (next to the broker's keys on Redis)."""
        return f"{self.namespace}:lexigram:"

    @classmethod
    def from_config(cls, config: TaskConfig, backend: BackendConfig) -> DramatiqSettings:
        extra = _extra(config)
        namespace = extra.get("namespace", "dramatiq")
        if not isinstance(namespace, str) or not _NAMESPACE.fullmatch(namespace):
            raise ConfigurationError(
                f"tasks.extra.dramatiq.namespace={namespace!r} is not valid",
                hint="use 1-100 characters from A-Z a-z 0-9 _ . : -",
            )
        chance = extra.get("maintenance_chance", 1000)
        if isinstance(chance, bool) or not isinstance(chance, int) or not 0 < chance <= 1_000_000:
            raise ConfigurationError(
                f"tasks.extra.dramatiq.maintenance_chance={chance!r} is not valid",
                hint="an int from 1 to 1000000 (per million broker calls; 1000000 = every call)",
            )
        if backend.type == "redis":
            url = backend.redis_url.get_secret_value()
            state: str | None = backend.state_url.get_secret_value() if backend.state_url is not None else url
        else:
            url = backend.amqp_url.get_secret_value()
            state = backend.state_url.get_secret_value() if backend.state_url is not None else None
        dead = config.retention.dead_letter_seconds
        if backend.type == "amqp" and dead is not None and dead * 1000 > RABBITMQ_MAX_TTL_MS:
            raise ConfigurationError(
                f"tasks.retention.dead_letter_seconds={dead:g} is over RabbitMQ's largest "
                f"message TTL ({RABBITMQ_MAX_TTL_MS // 1000} s)",
                hint="use a smaller value, or null to keep dead letters until purged",
            )
        return cls(
            broker=backend.type,
            url=url,
            state_url=state or None,
            namespace=namespace,
            maintenance_chance=chance,
            heartbeat_timeout_ms=max(1, int(config.worker.lease_seconds * 1000)),
            dead_message_ttl_ms=NEVER_MS if dead is None else max(1, int(dead * 1000)),
            completed_ttl=config.retention.completed_seconds,
            poll_interval_ms=max(1, int(config.worker.poll_interval * 1000)),
            shutdown_timeout=config.worker.shutdown_timeout,
            heartbeat_interval=config.worker.heartbeat_interval or config.worker.lease_seconds / 3,
        )


def _extra(config: TaskConfig) -> dict[str, Any]:
    raw = config.extra.get("dramatiq", {})
    if not isinstance(raw, dict):
        raise ConfigurationError(
            f"tasks.extra.dramatiq must be a mapping, got {type(raw).__name__}",
            hint=f"e.g. extra: {{dramatiq: {{namespace: myapp}}}}; known keys: {', '.join(_KNOWN)}",
        )
    unknown = sorted(set(raw) - set(_KNOWN))
    if unknown:
        raise ConfigurationError(
            f"tasks.extra.dramatiq has unknown keys {unknown}",
            hint=f"known keys: {', '.join(_KNOWN)}",
        )
    return raw
