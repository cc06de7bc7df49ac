"""The retry policy: which failures retry, and how long to wait between attempts.

This is the one place the delay formula lives (SPEC §2.2). Engines never
compute delays of their own: they ask the policy and translate the answer.
"""

from __future__ import annotations

import math
import random
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Literal

if TYPE_CHECKING:
    from lexigram_compat.config import RetryConfig

__all__ = ["FULL_JITTER", "Abort", "Reject", "Retry", "RetryPolicy", "cause_of"]


class Retry(Exception):
    """Raised by a task to ask for another attempt.

    The retry consumes an attempt. ``delay`` (seconds) overrides the policy's
    backoff for this one retry. ``exc`` is the real cause: the retry's log line and,
    once attempts run out, the dead letter show it (type, message, traceback)
    instead of ``Retry``. ``max_attempts`` overrides the job's attempt budget for
    this decision (Celery's ``self.retry(max_retries=...)``).
    """

    def __init__(
        self,
        delay: float | None = None,
        message: str | None = None,
        *,
        exc: BaseException | None = None,
        max_attempts: int | None = None,
    ) -> None:
        if delay is not None and delay < 0:
            raise ValueError(f"Retry(delay={delay!r}): the delay must be >= 0 seconds")
        if exc is not None and not isinstance(exc, BaseException):
            raise TypeError(f"Retry(exc={exc!r}): give the exception that caused the retry")
        if max_attempts is not None and (isinstance(max_attempts, bool) or max_attempts < 1):
            raise ValueError(f"Retry(max_attempts={max_attempts!r}): must be an int >= 1")
        self.delay = delay
        self.exc = exc
        self.max_attempts = max_attempts
        if message is None and exc is not None:
            message = f"retry after {type(exc).__name__}: {exc}"
        super().__init__(message or "task asked for a retry")


def cause_of(error: BaseException) -> BaseException:
    """The real cause of a failed attempt: a ``Retry``'s ``exc`` when it has one, else the
    error itself (what the log line, the hooks and the dead letter show)."""
    return error.exc if isinstance(error, Retry) and error.exc is not None else error


class Reject(Exception):
    """Raised by a task to dead-letter the job at once, without further attempts."""

    def __init__(self, message: str = "task rejected the job") -> None:
        super().__init__(message)


Abort = Reject
"""Lexigram's other name for :class:`Reject`: raise it to dead-letter the job at once."""


FULL_JITTER: Literal["full"] = "full"
"""``RetryPolicy(jitter="full")``: Celery's full jitter (``retry_jitter=True`` with
``retry_backoff``): a whole number of seconds drawn uniformly from ``0..floor(d)``."""


def _check_jitter(jitter: bool | float | str) -> None:
    if isinstance(jitter, bool) or jitter == FULL_JITTER:
        return
    if isinstance(jitter, str) or not 0 < jitter <= 1:
        raise ValueError(
            f"RetryPolicy(jitter={jitter!r}): a float jitter must be in (0, 1]; "
            "use true for the default half-delay jitter, 'full' for Celery's full jitter, "
            "or false for none"
        )


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts a job gets and how long to wait between them.

    Attributes:
        max_attempts: Total attempts, the first included (Lexigram's
            ``max_retries`` is ``max_attempts - 1``).
        base_delay: Seconds to wait after the first failed attempt.
        backoff_factor: Multiplier applied per further failed attempt.
        max_delay: Upper bound of any delay.
        jitter: ``True`` draws the delay uniformly from ``[d/2, d]``; a float
            ``j`` in ``(0, 1]`` from ``[(1-j)*d, d]``; ``"full"`` a whole number of
            seconds from ``0..floor(d)`` (Celery's ``retry_jitter``, exactly as
            ``celery.utils.time.get_exponential_backoff_interval`` draws it);
            ``False`` uses ``d``.
        retry_on: Exception types that retry; others dead-letter at once.
        abort_on: Exception types that dead-letter at once; wins over retry_on.
    """

    max_attempts: int = 3
    base_delay: float = 1.0
    backoff_factor: float = 2.0
    max_delay: float = 60.0
    jitter: bool | float | Literal["full"] = True
    retry_on: tuple[type[BaseException], ...] = (Exception,)
    abort_on: tuple[type[BaseException], ...] = ()
    _random: Callable[[float, float], float] = field(default=random.uniform, repr=False, compare=False)

    def __post_init__(self) -> None:
        problems = []
        if self.max_attempts < 1:
            problems.append(f"max_attempts={self.max_attempts!r} must be >= 1")
        if self.base_delay < 0:
            problems.append(f"base_delay={self.base_delay!r} must be >= 0")
        if self.backoff_factor < 1:
            problems.append(f"backoff_factor={self.backoff_factor!r} must be >= 1")
        if self.max_delay < 0:
            problems.append(f"max_delay={self.max_delay!r} must be >= 0")
        if problems:
            raise ValueError("RetryPolicy: " + "; ".join(problems))
        _check_jitter(self.jitter)
        for label, types in (("retry_on", self.retry_on), ("abort_on", self.abort_on)):
            if not isinstance(types, tuple) or not all(
                isinstance(t, type) and issubclass(t, BaseException) for t in types
            ):
                raise ValueError(f"RetryPolicy({label}={types!r}): give a tuple of exception classes")

    @classmethod
    def from_config(cls, config: RetryConfig) -> RetryPolicy:
        """Build the policy from the ``tasks.retry`` config section."""
        return cls(
            max_attempts=config.max_attempts,
            base_delay=config.base_delay,
            backoff_factor=config.backoff_factor,
            max_delay=config.max_delay,
            jitter=config.jitter,
        )

    def with_max_attempts(self, max_attempts: int) -> RetryPolicy:
        """A copy with another attempt budget (``@task(max_retries=...)``)."""
        return replace(self, max_attempts=max_attempts)

    def base_delay_for(self, attempt: int) -> float:
        """The delay before jitter after failed attempt ``attempt`` (1-based)."""
        if attempt < 1:
            raise ValueError(f"attempt={attempt!r}: attempts are numbered from 1")
        if self.base_delay == 0:
            return 0.0
        # For absurd attempt numbers the power overflows a float (at an
        # exponent that depends on the factor): the delay is capped anyway.
        try:
            raw = self.base_delay * self.backoff_factor ** (attempt - 1)
        except OverflowError:
            return float(self.max_delay)
        return float(min(self.max_delay, raw))

    def delay_bounds(self, attempt: int) -> tuple[float, float]:
        """The closed interval the jittered delay for ``attempt`` falls in."""
        d = self.base_delay_for(attempt)
        if self.jitter == FULL_JITTER:
            return 0.0, float(math.floor(d))
        if self.jitter is True:
            return d / 2, d
        if self.jitter is False:
            return d, d
        return (1 - float(self.jitter)) * d, d

    def delay_for(self, attempt: int) -> float:
        """Seconds to wait after failed attempt ``attempt`` (1-based) before the next."""
        low, high = self.delay_bounds(attempt)
        if self.jitter == FULL_JITTER:
            # The module's generator, as Celery draws it (a seeded run matches Celery's).
            return float(random.randrange(int(high) + 1))
        return high if low == high else self._random(low, high)

    def should_retry(self, attempt: int, error: BaseException) -> bool:
        """Whether failed attempt ``attempt`` with ``error`` gets another attempt."""
        if isinstance(error, Reject):
            return False
        if attempt >= self.max_attempts:
            return False
        if isinstance(error, Retry):
            return True
        if self.abort_on and isinstance(error, self.abort_on):
            return False
        return isinstance(error, self.retry_on)

    def describe(self) -> dict[str, Any]:
        """JSON-friendly fields, for messages and engine translation."""
        return {
            "max_attempts": self.max_attempts,
            "base_delay": self.base_delay,
            "backoff_factor": self.backoff_factor,
            "max_delay": self.max_delay,
            "jitter": self.jitter,
        }
