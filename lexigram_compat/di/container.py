"""A small container: instances, factories, singletons and named bindings.

Any object with ``resolve(type, name=None)`` (sync or async, raising
``LookupError`` for what it cannot provide) may be used instead.
"""

from __future__ import annotations

import inspect
import threading
from collections.abc import Awaitable, Callable
from typing import Any, Protocol, TypeVar, cast, runtime_checkable

__all__ = ["Container", "Resolver"]

T = TypeVar("T")


@runtime_checkable
class Resolver(Protocol):
    """Anything that can resolve a type (and optional name) to an instance."""

    def resolve(self, key: Any, name: str | None = None) -> Any | Awaitable[Any]:
        """Return the instance for ``key`` (a type) and ``name``, or an awaitable of it.

        Raises:
            LookupError: Nothing is registered for ``key`` and ``name``.
        """
        ...


def _type_name(key: Any) -> str:
    return getattr(key, "__qualname__", None) or repr(key)


_UNBUILT: Any = object()


class _Binding:
    __slots__ = ("factory", "instance", "is_factory", "lock", "singleton")

    def __init__(self, value: Any, singleton: bool) -> None:
        # A class or function is a factory; anything else is the instance itself.
        self.is_factory = callable(value) and (
            inspect.isclass(value) or inspect.isfunction(value) or inspect.ismethod(value)
        )
        self.factory: Callable[[], Any] | None = value if self.is_factory else None
        self.instance: Any = _UNBUILT if self.is_factory else value
        self.singleton = singleton
        self.lock = threading.Lock()


class Container:
    """Bindings by ``(type, name)``.

    >>> c = Container()
    >>> c.register(str, "hello")
    >>> c.resolve(str)
    'hello'
    """

    def __init__(self) -> None:
        self._bindings: dict[tuple[Any, str | None], _Binding] = {}

    def register(self, key: Any, value: Any, *, name: str | None = None, singleton: bool = True) -> None:
        """Bind ``key`` (a type) to an instance or a factory.

        Args:
            key: The type parameters are annotated with.
            value: An instance, or a class/function called with no arguments.
            name: Bind under this name (``Annotated[T, Named(name)]``).
            singleton: For a factory, build once and reuse (default); else per resolve.
        """
        self._bindings[(key, name)] = _Binding(value, singleton)

    def __contains__(self, key: object) -> bool:
        return (key, None) in self._bindings

    def resolve(self, key: type[T] | Any, name: str | None = None) -> T:
        """Return the bound instance.

        Raises:
            LookupError: Nothing is bound for ``key`` (and ``name``).
        """
        binding = self._bindings.get((key, name))
        if binding is None:
            label = _type_name(key) + (f" named {name!r}" if name else "")
            raise LookupError(f"no binding for {label}")
        if not binding.is_factory:
            return cast(T, binding.instance)
        assert binding.factory is not None
        if not binding.singleton:
            return cast(T, binding.factory())
        with binding.lock:
            if binding.instance is _UNBUILT:
                binding.instance = binding.factory()
            return cast(T, binding.instance)
