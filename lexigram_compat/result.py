"""A Rust-style ``Result`` type, API-compatible with Lexigram's ``lexigram.result``.

A ``Result[T, E]`` is either ``Ok(value)`` or ``Err(error)``. Chain operations
with the methods, or destructure with ``match``: ``case Ok(v)`` / ``case Err(e)``.
"""

from __future__ import annotations

import functools
from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, Generic, Literal, Never, NoReturn, ParamSpec, Self, final, overload
from typing import TypeVar as _TypeVar

# typing_extensions (a pydantic dependency) backports PEP 696 defaults to 3.11.
# Defaulting to Never lets ``x = Ok(1)`` infer ``Ok[int, Never]`` without an
# annotation, and covariance makes that usable wherever ``Result[int, E]`` is.
from typing_extensions import TypeVar

__all__ = [
    "Err",
    "Ok",
    "Result",
    "ResultError",
    "UnwrapError",
    "as_result",
    "as_result_sync",
    "collect",
    "partition",
]

T_co = TypeVar("T_co", covariant=True, default=Never)
E_co = TypeVar("E_co", covariant=True, default=Never)
U = _TypeVar("U")
V = _TypeVar("V")
F = _TypeVar("F")
ExcT = _TypeVar("ExcT", bound=BaseException)
CaughtT = _TypeVar("CaughtT", bound=Exception)
P = ParamSpec("P")


class UnwrapError(Exception):
    """A value was unwrapped from the wrong variant.

    Args:
        message: What was unwrapped, and the payload that was found instead.
        result: The ``Result`` that was unwrapped, for inspection by handlers.
    """

    def __init__(self, message: str, result: Result[Any, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.result = result

    def __reduce__(self) -> tuple[type[UnwrapError], tuple[str, Result[Any, Any] | None]]:
        # Exception pickles only ``args``; keep ``result`` across process boundaries.
        return type(self), (self.message, self.result)


ResultError = UnwrapError


class Result(ABC, Generic[T_co, E_co]):
    """Either a success ``Ok[T]`` or a failure ``Err[E]``; never instantiated itself."""

    __slots__ = ()

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # Matching on Ok/Err is only exhaustive if no third variant can exist.
        if cls.__module__ != __name__:
            raise TypeError("Result has exactly two variants, Ok and Err; it cannot be subclassed")
        super().__init_subclass__(**kwargs)

    @classmethod
    def from_exception(cls, exc: ExcT) -> Result[Never, ExcT]:
        """Wrap a caught exception as a failure: ``Result.from_exception(e) == Err(e)``."""
        return Err(exc)

    @abstractmethod
    def is_ok(self) -> bool:
        """Return True for ``Ok``."""

    @abstractmethod
    def unwrap(self) -> T_co:
        """Return the ``Ok`` value.

        Raises:
            UnwrapError: On ``Err``, chained to the error if that is an exception.
        """

    @abstractmethod
    def unwrap_err(self) -> E_co:
        """Return the ``Err`` error.

        Raises:
            UnwrapError: On ``Ok``.
        """

    def is_err(self) -> bool:
        """Return True for ``Err``."""
        return not self.is_ok()

    def expect(self, msg: str) -> T_co:
        """Return the ``Ok`` value.

        Raises:
            UnwrapError: On ``Err``, reading ``"{msg}: {error!r}"`` and chained to the error.
        """
        if self.is_ok():
            return self.unwrap()
        raise _unwrap_error(f"{msg}: {self.unwrap_err()!r}", self)

    def unwrap_or(self, default: U) -> T_co | U:
        """Return the ``Ok`` value, or ``default`` on ``Err``."""
        return self.unwrap() if self.is_ok() else default

    def unwrap_or_else(self, fn: Callable[[E_co], U]) -> T_co | U:
        """Return the ``Ok`` value, or ``fn(error)`` on ``Err``."""
        return self.unwrap() if self.is_ok() else fn(self.unwrap_err())

    def ok_or(self, default: U) -> T_co | U:
        """Return the ``Ok`` value, or ``default`` on ``Err`` (same as ``unwrap_or``)."""
        return self.unwrap() if self.is_ok() else default

    def to_optional(self) -> T_co | None:
        """Return the ``Ok`` value, or None on ``Err``."""
        return self.unwrap() if self.is_ok() else None

    def map_sync(self, fn: Callable[[T_co], U]) -> Result[U, E_co]:
        """Return ``Ok(fn(value))``; an ``Err`` passes through."""
        return Ok(fn(self.unwrap())) if self.is_ok() else Err(self.unwrap_err())

    def map_err(self, fn: Callable[[E_co], F]) -> Result[T_co, F]:
        """Return ``Err(fn(error))``; an ``Ok`` passes through."""
        return Ok(self.unwrap()) if self.is_ok() else Err(fn(self.unwrap_err()))

    def and_then_sync(self, fn: Callable[[T_co], Result[U, F]]) -> Result[U, E_co | F]:
        """Chain a fallible step: ``fn(value)`` on ``Ok``; an ``Err`` passes through."""
        return fn(self.unwrap()) if self.is_ok() else Err(self.unwrap_err())

    def or_else_sync(self, fn: Callable[[E_co], Result[U, F]]) -> Result[T_co | U, F]:
        """Recover from a failure: ``fn(error)`` on ``Err``; an ``Ok`` passes through."""
        return Ok(self.unwrap()) if self.is_ok() else fn(self.unwrap_err())

    def match(self, *, ok: Callable[[T_co], U], err: Callable[[E_co], V]) -> U | V:
        """Fold both variants into one value: ``ok(value)`` on ``Ok``, ``err(error)`` on ``Err``."""
        return ok(self.unwrap()) if self.is_ok() else err(self.unwrap_err())

    async def map(self, fn: Callable[[T_co], Awaitable[U]]) -> Result[U, E_co]:
        """Return ``Ok(await fn(value))``; an ``Err`` passes through."""
        return Ok(await fn(self.unwrap())) if self.is_ok() else Err(self.unwrap_err())

    async def async_map(self, fn: Callable[[T_co], Awaitable[U]]) -> Result[U, E_co]:
        """Alias of ``map``."""
        return await self.map(fn)

    async def and_then(self, fn: Callable[[T_co], Awaitable[Result[U, F]]]) -> Result[U, E_co | F]:
        """Chain an async fallible step: ``await fn(value)`` on ``Ok``; ``Err`` passes through."""
        return await fn(self.unwrap()) if self.is_ok() else Err(self.unwrap_err())

    async def or_else(self, fn: Callable[[E_co], Awaitable[Result[U, F]]]) -> Result[T_co | U, F]:
        """Recover asynchronously: ``await fn(error)`` on ``Err``; an ``Ok`` passes through."""
        return Ok(self.unwrap()) if self.is_ok() else await fn(self.unwrap_err())

    @overload
    def flatten(self: Result[Result[U, F], V]) -> Result[U, F | V]: ...
    @overload
    def flatten(self) -> Result[T_co, E_co]: ...
    def flatten(self) -> Result[Any, Any]:
        """Remove one level of nesting: ``Ok(Ok(1))`` becomes ``Ok(1)``; else return ``self``."""
        if self.is_ok() and isinstance(inner := self.unwrap(), Result):
            return inner
        return self

    def filter(self, pred: Callable[[T_co], bool], error: F) -> Result[T_co, E_co | F]:
        """Keep an ``Ok`` only if ``pred(value)`` holds, else fail with ``Err(error)``.

        Returns:
            ``self`` if it is an ``Err`` or passes ``pred``, otherwise ``Err(error)``.
        """
        return self if self.is_err() or pred(self.unwrap()) else Err(error)

    def inspect(self, fn: Callable[[T_co], object]) -> Self:
        """Call ``fn(value)`` on ``Ok`` for its side effect; return ``self``."""
        if self.is_ok():
            fn(self.unwrap())
        return self

    def inspect_err(self, fn: Callable[[E_co], object]) -> Self:
        """Call ``fn(error)`` on ``Err`` for its side effect; return ``self``."""
        if self.is_err():
            fn(self.unwrap_err())
        return self


@final
class Ok(Result[T_co, E_co]):
    """The success variant, holding ``value``."""

    __slots__ = ("_value",)
    __match_args__ = ("value",)

    def __init__(self, value: T_co) -> None:
        self._value = value

    @property
    def value(self) -> T_co:
        """The success value."""
        return self._value

    def __repr__(self) -> str:
        return f"Ok({self._value!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Ok):
            return bool(self._value == other._value)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Ok, self._value))

    def is_ok(self) -> Literal[True]:
        """Always True for ``Ok``."""
        return True

    def unwrap(self) -> T_co:
        """Return the value."""
        return self._value

    def unwrap_err(self) -> NoReturn:
        """Always raises: an ``Ok`` holds no error.

        Raises:
            UnwrapError: Always.
        """
        raise UnwrapError(f"called unwrap_err() on Ok: {self._value!r}", self)


@final
class Err(Result[T_co, E_co]):
    """The failure variant, holding ``error`` (usually an exception)."""

    __slots__ = ("_error",)
    __match_args__ = ("error",)

    def __init__(self, error: E_co) -> None:
        self._error = error

    @property
    def error(self) -> E_co:
        """The failure payload."""
        return self._error

    def __repr__(self) -> str:
        return f"Err({self._error!r})"

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Err):
            return bool(self._error == other._error)
        return NotImplemented

    def __hash__(self) -> int:
        return hash((Err, self._error))

    def is_ok(self) -> Literal[False]:
        """Always False for ``Err``."""
        return False

    def unwrap(self) -> NoReturn:
        """Always raises: an ``Err`` holds no value.

        Raises:
            UnwrapError: Always, chained to the error when it is an exception.
        """
        raise _unwrap_error(f"called unwrap() on Err: {self._error!r}", self)

    def unwrap_err(self) -> E_co:
        """Return the error."""
        return self._error


def _unwrap_error(message: str, result: Result[Any, Any]) -> UnwrapError:
    exc = UnwrapError(message, result)
    # Chaining keeps the original traceback in the report of the UnwrapError.
    if isinstance(error := result.unwrap_err(), BaseException):
        exc.__cause__ = error
    return exc


def _catchable(name: str, exc_types: tuple[type[CaughtT], ...]) -> tuple[type[CaughtT], ...]:
    # Catching nothing would be a silent no-op, and BaseException subclasses such
    # as CancelledError must keep propagating, so both are rejected at decoration.
    if not exc_types:
        raise TypeError(f"{name}() needs at least one exception type, e.g. {name}(ValueError)")
    for exc_type in exc_types:
        if not (isinstance(exc_type, type) and issubclass(exc_type, Exception)):
            raise TypeError(f"{name}() takes Exception subclasses, got {exc_type!r}")
    return exc_types


def as_result(
    *exc_types: type[CaughtT],
) -> Callable[[Callable[P, Awaitable[U]]], Callable[P, Coroutine[Any, Any, Result[U, CaughtT]]]]:
    """Decorate an async function to return ``Ok(value)``, or ``Err(exc)`` for listed exceptions.

    Args:
        *exc_types: ``Exception`` subclasses that are expected failures; others propagate.

    Raises:
        TypeError: If no types, or a type that is not an ``Exception`` subclass, are given.
    """
    catch = _catchable("as_result", exc_types)

    def decorate(
        fn: Callable[P, Awaitable[U]],
    ) -> Callable[P, Coroutine[Any, Any, Result[U, CaughtT]]]:
        @functools.wraps(fn)
        async def wrapper(*args: P.args, **kwargs: P.kwargs) -> Result[U, CaughtT]:
            try:
                return Ok(await fn(*args, **kwargs))
            except catch as exc:
                return Err(exc)

        return wrapper

    return decorate


def as_result_sync(
    *exc_types: type[CaughtT],
) -> Callable[[Callable[P, U]], Callable[P, Result[U, CaughtT]]]:
    """Decorate a sync function to return ``Ok(value)``, or ``Err(exc)`` for listed exceptions.

    Args:
        *exc_types: ``Exception`` subclasses that are expected failures; others propagate.

    Raises:
        TypeError: If no types, or a type that is not an ``Exception`` subclass, are given.
    """
    catch = _catchable("as_result_sync", exc_types)

    def decorate(fn: Callable[P, U]) -> Callable[P, Result[U, CaughtT]]:
        @functools.wraps(fn)
        def wrapper(*args: P.args, **kwargs: P.kwargs) -> Result[U, CaughtT]:
            try:
                return Ok(fn(*args, **kwargs))
            except catch as exc:
                return Err(exc)

        return wrapper

    return decorate


def collect(results: Iterable[Result[U, F]]) -> Result[list[U], F]:
    """Return ``Ok`` of all values in order, or the first ``Err`` (iteration stops there)."""
    values: list[U] = []
    for result in results:
        if result.is_err():
            return Err(result.unwrap_err())
        values.append(result.unwrap())
    return Ok(values)


def partition(results: Iterable[Result[U, F]]) -> tuple[list[U], list[F]]:
    """Split results into ``(values, errors)``, each kept in its original order."""
    values: list[U] = []
    errors: list[F] = []
    for result in results:
        if result.is_ok():
            values.append(result.unwrap())
        else:
            errors.append(result.unwrap_err())
    return values, errors
