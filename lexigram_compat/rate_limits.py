"""Task rate limits (``@task(rate_limit="10/s")``), honoured per worker process.

Celery's forms: ``"10/s"``, ``"100/m"``, ``"1000/h"``, or a plain number (per
second). A worker process starts at most that many attempts of the task per
unit of time, evenly spaced (Celery's token bucket holds one token: no burst).
A job over the limit waits for its turn; it is not failed and takes no attempt
of its own.

The limiter is a reservation (the generic cell rate algorithm's virtual
schedule): each caller takes the next free start time under a lock and sleeps
until then. Hand-written rather than ``aiolimiter``: one object must serve the
worker's event loop and the threads of every engine's worker, which a
loop-bound limiter does not.
"""

from __future__ import annotations

import asyncio
import math
import re
import threading
import time

__all__ = ["RateLimiter", "parse_rate_limit", "wait_for_turn"]

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0}
_FORM = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*([smh]))?\s*$")


def parse_rate_limit(value: object, where: str) -> float | None:
    """Starts per second ``value`` allows (``None``: no limit; Celery's ``0`` is no
    limit too); ``ValueError`` naming the value and the forms otherwise."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        per_second = float(value)
    elif isinstance(value, str) and (match := _FORM.match(value)):
        per_second = float(match.group(1)) / _UNITS[match.group(2) or "s"]
    else:
        raise ValueError(
            f"{where}: rate_limit={value!r} is not a rate; use '10/s', '100/m', '1000/h' "
            "or a number of starts per second"
        )
    if per_second < 0 or not math.isfinite(per_second):
        raise ValueError(f"{where}: rate_limit={value!r} must be a finite rate >= 0")
    return per_second or None


class RateLimiter:
    """At most ``per_second`` starts per second in this process, evenly spaced."""

    def __init__(self, per_second: float) -> None:
        self.interval = 1.0 / per_second
        self._next = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> float:
        """Take the next start time; the seconds to wait until it."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval
            return start - now


_limiters: dict[tuple[str, float], RateLimiter] = {}
_limiters_lock = threading.Lock()


async def wait_for_turn(task_name: str, per_second: float) -> None:
    """Wait until this process may start another attempt of ``task_name``."""
    key = (task_name, per_second)
    limiter = _limiters.get(key)
    if limiter is None:
        with _limiters_lock:
            limiter = _limiters.setdefault(key, RateLimiter(per_second))
    wait = limiter.reserve()
    if wait > 0:
        await asyncio.sleep(wait)
