"""TaskCall: a task name with bound arguments and per-call options.

Calling a ``@task`` function returns one of these; ``enqueue`` accepts it.
It is plain data, so it can also be built by hand for a task defined in
another service (``TaskCall("billing.charge", kwargs={...})``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

__all__ = ["NO_OPTIONS", "CallOptions", "TaskCall"]


@dataclass(frozen=True)
class CallOptions:
    """Per-call options; ``None`` means "use the task's or the config's default"."""

    delay: float | None = None
    eta: datetime | None = None
    queue: str | None = None
    priority: int | None = None
    job_id: str | None = None
    idempotency_key: str | None = None
    headers: Mapping[str, Any] | None = None
    expires: float | timedelta | datetime | None = None
    compression: str | None = None

    def merged(self, other: CallOptions) -> CallOptions:
        """``other``'s set values win over this one's."""
        # The common case is no options at all: skip the field walk.
        if other is NO_OPTIONS or other == NO_OPTIONS:
            return self
        if self is NO_OPTIONS or self == NO_OPTIONS:
            return other
        updates = {f.name: getattr(other, f.name) for f in fields(other)}
        return replace(self, **{k: v for k, v in updates.items() if v is not None})


NO_OPTIONS = CallOptions()
"""No option set: the default of every ``TaskCall`` (one shared instance, so that the
common case is told by identity)."""
_OPTION_NAMES = tuple(f.name for f in fields(CallOptions))


@dataclass(frozen=True)
class TaskCall:
    """One invocation of a task, ready to enqueue.

    Attributes:
        name: The registered task name.
        args: Positional arguments, as given.
        kwargs: Keyword arguments, as given.
        call_options: Per-call options set with :meth:`options`.
    """

    name: str
    args: tuple[Any, ...] = ()
    kwargs: Mapping[str, Any] = field(default_factory=dict)
    call_options: CallOptions = NO_OPTIONS

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise TypeError(f"TaskCall(name={self.name!r}): the task name must be a non-empty str")
        object.__setattr__(self, "args", tuple(self.args))
        object.__setattr__(self, "kwargs", dict(self.kwargs))

    def options(
        self,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        headers: Mapping[str, Any] | None = None,
        expires: float | timedelta | datetime | None = None,
        compression: str | None = None,
    ) -> TaskCall:
        """A new call with these options set (the others kept)."""
        extra = CallOptions(
            delay=delay,
            eta=eta,
            queue=queue,
            priority=priority,
            job_id=job_id,
            idempotency_key=idempotency_key,
            headers=headers,
            expires=expires,
            compression=compression,
        )
        return replace(self, call_options=self.call_options.merged(extra))

    def __repr__(self) -> str:
        parts = [repr(a) for a in self.args] + [f"{k}={v!r}" for k, v in self.kwargs.items()]
        return f"TaskCall({self.name}({', '.join(parts)}))"


def option_names() -> tuple[str, ...]:
    """The names ``TaskCall.options`` and ``enqueue`` accept."""
    return _OPTION_NAMES
