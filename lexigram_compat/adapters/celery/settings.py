"""The Celery engine's own settings: ``tasks.extra.celery``.

```yaml
tasks:
  engine: celery
  backend: {type: redis, redis_url: "redis://localhost:6379/0"}
  extra:
    celery:
      key_prefix: "lexigram:"        # job state and dead letters in Redis
      visibility_timeout: 3600       # Redis broker: seconds before an unacked message is redelivered
      pool: threads                  # the pool `lexigram-compat worker` starts celery with
      transport_options: {}          # passed to broker_transport_options
      settings: {}                   # any other Celery setting (overrides the engine's)
```

With ``backend.type: amqp`` the job state still lives in Redis, at
``backend.redis_url``.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from lexigram_compat.errors import ConfigurationError

__all__ = ["POOLS", "CelerySettings"]

POOLS = ("threads", "prefork", "solo")
_KNOWN = ("key_prefix", "visibility_timeout", "pool", "transport_options", "settings")


@dataclass(frozen=True)
class CelerySettings:
    """``tasks.extra.celery``, checked."""

    key_prefix: str = "lexigram:"
    visibility_timeout: float = 3600.0
    pool: str = "threads"
    transport_options: Mapping[str, Any] = field(default_factory=dict)
    settings: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def from_extra(cls, extra: Mapping[str, Any]) -> CelerySettings:
        """Read ``extra["celery"]``; every problem is a ``ConfigurationError`` naming the key."""
        section = extra.get("celery") or {}
        where = "tasks.extra.celery"
        if not isinstance(section, Mapping):
            raise ConfigurationError(f"{where} must be a mapping, got {type(section).__name__}")
        for key in section:
            if key not in _KNOWN:
                close = difflib.get_close_matches(str(key), _KNOWN, n=1)
                raise ConfigurationError(
                    f"{where}.{key} is not a Celery engine setting",
                    hint=(f"did you mean {close[0]!r}? " if close else "") + f"known: {', '.join(_KNOWN)}",
                )
        prefix = section.get("key_prefix", cls.key_prefix)
        if not isinstance(prefix, str) or not prefix:
            raise ConfigurationError(f"{where}.key_prefix={prefix!r} must be a non-empty string")
        timeout = section.get("visibility_timeout", cls.visibility_timeout)
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            raise ConfigurationError(
                f"{where}.visibility_timeout={timeout!r} must be a number of seconds > 0",
                hint="make it longer than your longest task run and delay/eta (docs/engines/celery.md)",
            )
        pool = section.get("pool", cls.pool)
        if pool not in POOLS:
            raise ConfigurationError(f"{where}.pool={pool!r} is not one of {', '.join(POOLS)}")
        options = {}
        for key in ("transport_options", "settings"):
            value = section.get(key) or {}
            if not isinstance(value, Mapping):
                raise ConfigurationError(f"{where}.{key} must be a mapping, got {type(value).__name__}")
            options[key] = dict(value)
        return cls(prefix, float(timeout), pool, options["transport_options"], options["settings"])
