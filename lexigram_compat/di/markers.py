"""DI markers (``lexigram.di.markers``): ``Annotated[T, Named("x")]`` picks a named binding."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

__all__ = ["Inject", "Named", "inject", "named"]


@dataclass(frozen=True)
class Named:
    """Resolve the binding registered under ``name``: ``Annotated[Queue, Named("emails")]``."""

    name: str


@dataclass(frozen=True)
class Inject:
    """Mark a parameter as container-supplied, optionally by name."""

    name: str | None = None


class _Injected:
    """The default of a parameter the container supplies (see :func:`inject`)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "inject()"


INJECTED: Any = _Injected()


def inject() -> Any:
    """Default value for a container-supplied task parameter.

    ``async def send(user_id: str, mailer: Mailer = inject())`` tells type
    checkers that callers need not pass ``mailer``; the worker resolves it, and
    fails the attempt with a clear error if the container cannot.
    """
    return INJECTED


def named(name: str) -> Named:
    """Helper spelling of ``Named(name)``."""
    return Named(name)
