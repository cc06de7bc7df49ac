"""Resolving a task's missing parameters from the container at execution."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any, cast, get_args, get_origin

from lexigram_compat.di.markers import INJECTED, Inject, Named
from lexigram_compat.errors import DependencyResolutionError
from lexigram_compat.job_context import JobContext

if TYPE_CHECKING:
    from lexigram_compat.di.container import Resolver
    from lexigram_compat.tasks import Task

__all__ = ["Requirement", "requirements", "resolve_missing", "run_inline"]

_EMPTY = inspect.Parameter.empty
_VARIADIC = (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD)

_current_resolver: Resolver | None = None


def set_inline_resolver(resolver: Resolver | None) -> None:
    """The resolver ``Task.run`` uses (the most recently started app's)."""
    global _current_resolver  # noqa: PLW0603 - one process-wide default, like a logging root
    _current_resolver = resolver


def release_inline_resolver(resolver: Resolver) -> None:
    """Forget ``resolver`` as ``Task.run``'s default if it still is (its app closed)."""
    if _current_resolver is resolver:
        set_inline_resolver(None)


@dataclass(frozen=True)
class Requirement:
    """A parameter the job did not supply."""

    param: str
    key: Any
    name: str | None
    has_default: bool
    default: Any

    def describe(self) -> str:
        type_name = getattr(self.key, "__qualname__", None) or repr(self.key)
        return type_name + (f" named {self.name!r}" if self.name else "")


def _unwrap(annotation: Any) -> tuple[Any, str | None]:
    if get_origin(annotation) is Annotated:
        base, *meta = get_args(annotation)
        for item in meta:
            if isinstance(item, Named | Inject) and item.name:
                return base, item.name
        return base, None
    return annotation, None


def requirements(task: Task[Any, Any], supplied: set[str]) -> Iterator[Requirement]:
    """The parameters of ``task`` that the job left out."""
    hints = task.params.hints
    for pname, param in task.params.parameters.items():
        if pname in supplied or param.kind in _VARIADIC:
            continue
        annotation = hints.get(pname, _EMPTY)
        has_default = param.default is not _EMPTY and param.default is not INJECTED
        if annotation is _EMPTY:
            if has_default:
                continue
            raise DependencyResolutionError(
                f"{task.name}(): parameter {pname!r} was not supplied and has no type "
                "annotation to resolve it from the container",
                hint=f"pass {pname!r} when enqueueing, or annotate it with the type to inject",
            )
        key, name = _unwrap(annotation)
        yield Requirement(pname, key, name, has_default, param.default)


def _failure(task: Task[Any, Any], req: Requirement, exc: BaseException) -> DependencyResolutionError:
    reason = "" if isinstance(exc, LookupError) else f": {type(exc).__name__}: {exc}"
    return DependencyResolutionError(
        f"{task.name}(): cannot resolve parameter {req.param!r} of type {req.describe()} "
        f"from the container{reason}",
        cause=exc,
    )


async def resolve_missing(
    task: Task[Any, Any], supplied: set[str], resolver: Resolver | None, job: JobContext | None = None
) -> dict[str, Any]:
    """Resolve every missing annotated parameter; job arguments always win. A
    parameter annotated ``JobContext`` gets ``job`` (the running attempt's)."""
    resolved: dict[str, Any] = {}
    for req in requirements(task, supplied):
        if req.key is JobContext and job is not None:
            resolved[req.param] = job
            continue
        try:
            if resolver is None:
                raise LookupError("no container")
            value = resolver.resolve(req.key, req.name)
            if inspect.isawaitable(value):
                value = await value
        except Exception as exc:
            if req.has_default and isinstance(exc, LookupError):
                continue
            raise _failure(task, req, exc) from exc
        resolved[req.param] = value
    return resolved


def resolve_missing_sync(
    task: Task[Any, Any], supplied: set[str], resolver: Resolver | None
) -> dict[str, Any]:
    """Sync twin of :func:`resolve_missing` for ``Task.run`` on a sync task.

    Derived by driving the async version one step: it finishes at once unless
    a resolver really suspends, which a sync caller cannot wait for.
    """
    steps = resolve_missing(task, supplied, resolver)
    try:
        steps.send(None)
    except StopIteration as done:
        return cast(dict[str, Any], done.value)
    steps.close()
    raise DependencyResolutionError(
        f"{task.name}(): the container resolves a parameter asynchronously, which a sync "
        "Task.run() cannot wait for",
        hint="run the task through a worker, or give the container a sync resolve()",
    )


def run_inline(task: Task[Any, Any], args: Sequence[Any], kwargs: Mapping[str, Any]) -> Any:
    """Run a task's function now, resolving missing parameters like a worker."""
    bound = task.params.bind(task.name, args, kwargs)
    supplied = set(bound.arguments)
    resolver = _current_resolver
    if task.is_async:

        async def call() -> Any:
            extra = await resolve_missing(task, supplied, resolver)
            result: Awaitable[Any] = task.fn(*args, **{**extra, **kwargs})
            return await result

        return call()
    extra = resolve_missing_sync(task, supplied, resolver)
    return task.fn(*args, **{**extra, **kwargs})
