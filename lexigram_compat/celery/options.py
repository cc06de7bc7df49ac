"""Celery task and call options: each one is translated to the neutral policy or
refused with a message naming it and the alternative; none is dropped.

The mapping (also the table in ``docs/engines/celery.md``):

- ``queue``, ``priority``, ``name``, ``time_limit`` (the attempt's timeout),
  ``soft_time_limit`` (its ``soft_timeout``: ``SoftTimeLimitExceeded`` raised inside
  the task), ``expires``, ``compression`` and ``rate_limit`` go to the neutral ``@task``
  (and ``expires``/``compression`` of ``apply_async`` to the neutral ``enqueue``);
- ``max_retries``, ``default_retry_delay``, ``retry_backoff`` (+``_max``),
  ``retry_jitter`` become the task's :class:`~lexigram_compat.retry.RetryPolicy`
  (Celery's formula exactly: ``min(retry_backoff_max, factor * 2**retries)``, full
  jitter a whole number of seconds from ``0..countdown``);
- ``autoretry_for``/``dont_autoretry_for``/``retry_kwargs`` wrap the function as
  Celery's autoretry does; ``ignore_result`` keeps no result; ``throws`` and
  ``acks_late=True`` are accepted with the semantics the docs state; ``bind``
  passes the task as ``self``.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from lexigram_compat.errors import UnsupportedOptionError
from lexigram_compat.retry import FULL_JITTER, RetryPolicy

__all__ = [
    "CALL_OPTIONS",
    "TASK_OPTIONS",
    "UNLIMITED_ATTEMPTS",
    "TaskOptions",
    "check_call_options",
    "known_task_options",
    "task_options",
]

UNLIMITED_ATTEMPTS = 2**31 - 1
"""``max_retries=None`` (retry forever): the largest attempt budget every engine stores."""

DEFAULT_MAX_RETRIES = 3
DEFAULT_RETRY_DELAY = 180.0
DEFAULT_BACKOFF_MAX = 600

TASK_OPTIONS = (
    "name", "bind", "queue", "priority", "max_retries", "default_retry_delay", "retry_backoff",
    "retry_backoff_max", "retry_jitter", "autoretry_for", "dont_autoretry_for", "retry_kwargs",
    "ignore_result", "time_limit", "soft_time_limit", "acks_late", "throws", "expires", "compression",
    "rate_limit",
)  # fmt: skip
CALL_OPTIONS = ("countdown", "eta", "queue", "priority", "task_id", "headers", "expires", "compression")

_REFUSED_TASK = {
    "serializer": "arguments are always JSON, driven by type hints; drop serializer=",
    "reject_on_worker_lost": "a lost attempt is always counted and retried by the poison-pill rule; "
    "drop reject_on_worker_lost=",
    "acks_on_failure_or_timeout": "a failed job is always dead-lettered; drop this option",
    "track_started": "a running job is always reported (STARTED); drop track_started=",
    "typing": "calls are always checked against the signature; drop typing=",
    "pydantic": "arguments are always validated against their type hints; drop pydantic=",
    "routing_key": "route with queue= (routing keys and exchanges are the engine's)",
    "exchange": "route with queue= (routing keys and exchanges are the engine's)",
    "delivery_mode": "messages are persistent on every broker; drop delivery_mode=",
    "store_errors_even_if_ignored": "failures are always kept as dead letters; drop this option",
}
_REFUSED_CALL = {
    "link": "callbacks are not supported; enqueue the next task at the end of this one",
    "link_error": "error callbacks are not supported; handle the failure in the task or from its dead letter",
    "serializer": "arguments are always JSON; drop serializer=",
    "routing_key": "route with queue=",
    "exchange": "route with queue=",
    "retry": "publishing is retried by the engine; drop retry=",
    "retry_policy": "publishing is retried by the engine; drop retry_policy=",
    "time_limit": "set time_limit= on the task declaration",
    "soft_time_limit": "set soft_time_limit= on the task declaration",
    "ignore_result": "set ignore_result= on the task declaration",
    "shadow": "tasks run under their registered name; drop shadow=",
}


def _refuse(
    where: str, option: str, known: tuple[str, ...], refused: dict[str, str]
) -> UnsupportedOptionError:
    reason = refused.get(option)
    if reason is None:
        close = difflib.get_close_matches(option, known, n=1)
        reason = (f"did you mean {close[0]!r}? " if close else "") + "supported: " + ", ".join(known)
    return UnsupportedOptionError(f"{where}: option {option}= is not supported by lexigram_compat.celery",
                                  hint=reason)  # fmt: skip


@dataclass(frozen=True)
class TaskOptions:
    """The options of one Celery-style task declaration, checked."""

    name: str | None = None
    bind: bool = False
    queue: str | None = None
    priority: int | None = None
    max_retries: int | None = DEFAULT_MAX_RETRIES
    default_retry_delay: float = DEFAULT_RETRY_DELAY
    retry_backoff: bool | int | float = False
    retry_backoff_max: int = DEFAULT_BACKOFF_MAX
    retry_jitter: bool = True
    autoretry_for: tuple[type[BaseException], ...] = ()
    dont_autoretry_for: tuple[type[BaseException], ...] = ()
    retry_kwargs: dict[str, Any] = field(default_factory=dict)
    ignore_result: bool = False
    time_limit: float | None = None
    soft_time_limit: float | None = None
    acks_late: bool = True
    throws: tuple[type[BaseException], ...] = ()
    expires: float | timedelta | None = None
    compression: str | None = None
    rate_limit: str | float | None = None

    @property
    def backoff_factor(self) -> int:
        """Celery's factor: ``int(max(1.0, retry_backoff))`` (``True`` is 1 second)."""
        return int(max(1.0, float(self.retry_backoff)))

    def policy(self) -> RetryPolicy:
        """The retry policy these options mean.

        Only ``Retry`` (``self.retry()``, autoretry) retries (``retry_on=()``), as in
        Celery; the delay of a retry without a countdown is Celery's backoff when
        ``retry_backoff`` is set, else ``default_retry_delay``."""
        max_attempts = UNLIMITED_ATTEMPTS if self.max_retries is None else self.max_retries + 1
        if self.retry_backoff:
            return RetryPolicy(
                max_attempts=max_attempts,
                base_delay=float(self.backoff_factor),
                backoff_factor=2.0,
                max_delay=float(self.retry_backoff_max),
                jitter=FULL_JITTER if self.retry_jitter else False,
                retry_on=(),
            )
        delay = float(self.default_retry_delay)
        return RetryPolicy(max_attempts=max_attempts, base_delay=delay, backoff_factor=1.0,
                           max_delay=delay, jitter=False, retry_on=())  # fmt: skip


def _exceptions(where: str, option: str, value: Any) -> tuple[type[BaseException], ...]:
    items = value if isinstance(value, list | tuple) else (value,)
    if not all(isinstance(t, type) and issubclass(t, BaseException) for t in items):
        raise TypeError(f"{where}: {option}={value!r} must be a tuple of exception classes")
    return tuple(items)


def task_options(where: str, options: dict[str, Any], *, default_ignore_result: bool = False) -> TaskOptions:
    """Check the keyword options of ``@app.task(...)``: refuse what is not supported."""
    for option in options:
        if option not in TASK_OPTIONS:
            raise _refuse(where, option, TASK_OPTIONS, _REFUSED_TASK)
    if options.get("acks_late") is False:
        raise UnsupportedOptionError(
            f"{where}: acks_late=False is not supported by lexigram_compat.celery",
            hint="every engine acknowledges a job after its attempt is recorded (acks_late=True); "
            "at-most-once delivery is not offered: drop acks_late=False",
        )
    values = dict(options)
    for option in ("autoretry_for", "dont_autoretry_for", "throws"):
        if option in values:
            values[option] = _exceptions(where, option, values[option])
    retry_kwargs = dict(values.get("retry_kwargs") or {})
    unknown = sorted(set(retry_kwargs) - {"countdown", "max_retries"})
    if unknown:
        raise UnsupportedOptionError(
            f"{where}: retry_kwargs={retry_kwargs!r}: key {unknown[0]!r} is not supported",
            hint="retry_kwargs takes countdown and max_retries",
        )
    values["retry_kwargs"] = retry_kwargs
    max_retries = values.get("max_retries", DEFAULT_MAX_RETRIES)
    if max_retries is not None and (isinstance(max_retries, bool) or not isinstance(max_retries, int)
                                    or max_retries < 0):  # fmt: skip
        raise ValueError(f"{where}: max_retries={max_retries!r} must be an int >= 0 or None (forever)")
    _check_time_limits(where, values.get("time_limit"), values.get("soft_time_limit"))
    values.setdefault("ignore_result", default_ignore_result)
    return TaskOptions(**values)


def _check_time_limits(where: str, hard: Any, soft: Any) -> None:
    for option, value in (("time_limit", hard), ("soft_time_limit", soft)):
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if value is not None and not (number and value > 0):
            raise ValueError(f"{where}: {option}={value!r} must be a number of seconds > 0")
    if hard is not None and soft is not None and soft > hard:
        # Celery refuses it too ("soft_time_limit must be less than or equal to time_limit").
        raise ValueError(
            f"{where}: soft_time_limit={soft!r} must be less than or equal to time_limit={hard!r}"
        )


def known_task_options() -> frozenset[str]:
    """Every Celery task option the shim knows, supported or refused (the class
    attributes of a ``base=`` class it reads as defaults)."""
    return frozenset(TASK_OPTIONS) | frozenset(_REFUSED_TASK)


def check_call_options(where: str, options: dict[str, Any]) -> None:
    """Refuse a call option (``apply_async(..., option=)``) the shim does not support."""
    for option in options:
        if option not in CALL_OPTIONS:
            raise _refuse(where, option, CALL_OPTIONS, _REFUSED_CALL)
