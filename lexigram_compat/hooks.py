"""Lifecycle hooks: application code called at fixed points of a job's life, on every engine.

``app.hooks.on(name, handler)`` (or ``@app.hooks.on(name)``) registers a handler,
sync or ``async``; the points, and the arguments each handler gets:

================  ==================================  =============================================
hook              when                                handler(...)
================  ==================================  =============================================
before_enqueue    before a job is written to its      ``(ctx)``
                  engine (the producer's process)
enqueued          after the engine accepted it        ``(ctx)`` (``ctx.job_id``: the id returned)
attempt_started   before an attempt runs (worker)     ``(ctx)``
succeeded         the attempt succeeded, recorded     ``(ctx, result)``
failed            any failed attempt, recorded        ``(ctx, error)``
retried           ... and the job runs again          ``(ctx, error, delay)`` (seconds)
dead_lettered     ... and the job failed for good     ``(ctx, error)``
attempt_finished  after the attempt was settled       ``(ctx, outcome)`` (``Completed``,
                                                      ``RetryLater`` or ``DeadLettered``)
worker_started    a worker process is ready to run    ``(app)``
                  jobs (its app started)
worker_stopped    a worker process stops              ``(app)``
================  ==================================  =============================================

``ctx`` is the job's :class:`~lexigram_compat.job_context.JobContext` (at enqueue:
attempt 1, the headers it is sent with, read-only). A failed attempt fires
``failed`` and then ``retried`` or ``dead_lettered``, with ``error`` the exception it
raised (for ``raise Retry(exc=cause)``, the cause); an attempt whose worker died
fires those from the worker that finds it (``error`` a ``WorkerLostError``), with no
``attempt_started``/``attempt_finished``. ``error`` is None for a dead letter with no
exception (a delivery that was not a job). Outcome hooks fire only for outcomes the
job ledger accepted (not for a stale attempt's).

Handlers run in order of registration, on the worker's (or producer's) event loop:
a sync handler blocks it while it runs, so keep it short. A handler that raises is
logged and never changes what happens to the job. With no handler registered the
cost is one attribute check per point.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = ["HOOK_NAMES", "Hooks"]

log = logging.getLogger("lexigram_compat.hooks")

HOOK_NAMES = (
    "before_enqueue",
    "enqueued",
    "attempt_started",
    "succeeded",
    "failed",
    "retried",
    "dead_lettered",
    "attempt_finished",
    "worker_started",
    "worker_stopped",
)

Handler = Callable[..., Any]
H = TypeVar("H", bound=Handler)


class Hooks:
    """The lifecycle hooks of one app (``app.hooks``); see the module docstring."""

    def __init__(self) -> None:
        self._handlers: dict[str, list[Handler]] = {name: [] for name in HOOK_NAMES}
        self.registered = False
        """True once any handler is registered: the one check on the hot path."""

    @overload
    def on(self, name: str, handler: H) -> H: ...
    @overload
    def on(self, name: str, handler: None = None) -> Callable[[H], H]: ...
    def on(self, name: str, handler: H | None = None) -> H | Callable[[H], H]:
        """Call ``handler`` at the point ``name`` (one of :data:`HOOK_NAMES`) from now on.

        ``app.hooks.on("succeeded", fn)``, or as a decorator ``@app.hooks.on("succeeded")``.
        Returns the handler (the decorator, without one). A handler registered twice
        for one point is called once."""
        if name not in self._handlers:
            raise ValueError(f"no hook named {name!r}; the hooks are: {', '.join(HOOK_NAMES)}")
        if handler is None:

            def register(fn: H) -> H:
                self.on(name, fn)
                return fn

            return register
        if not callable(handler):
            raise TypeError(f"hook handler {handler!r} for {name!r} is not callable")
        if handler not in self._handlers[name]:
            self._handlers[name].append(handler)
        self.registered = True
        return handler

    def off(self, name: str, handler: Handler) -> None:
        """Stop calling ``handler`` at ``name`` (nothing if it was not registered)."""
        handlers = self._handlers.get(name, [])
        if handler in handlers:
            handlers.remove(handler)
        self.registered = any(self._handlers.values())

    def handlers(self, name: str) -> tuple[Handler, ...]:
        """The handlers of ``name``, in the order they are called."""
        return tuple(self._handlers[name])

    # Decorator shorthands: ``@app.hooks.before_attempt`` and so on.
    def before_enqueue(self, handler: H) -> H:
        return self.on("before_enqueue", handler)

    def after_enqueue(self, handler: H) -> H:
        return self.on("enqueued", handler)

    def before_attempt(self, handler: H) -> H:
        return self.on("attempt_started", handler)

    def after_attempt(self, handler: H) -> H:
        return self.on("attempt_finished", handler)

    def on_success(self, handler: H) -> H:
        return self.on("succeeded", handler)

    def on_failure(self, handler: H) -> H:
        return self.on("failed", handler)

    def on_retry(self, handler: H) -> H:
        return self.on("retried", handler)

    def on_dead_letter(self, handler: H) -> H:
        return self.on("dead_lettered", handler)

    def on_worker_start(self, handler: H) -> H:
        return self.on("worker_started", handler)

    def on_worker_stop(self, handler: H) -> H:
        return self.on("worker_stopped", handler)

    async def fire(self, name: str, *args: Any) -> None:
        """Call every handler of ``name`` with ``args`` (awaiting the async ones); a
        handler that raises is logged and the next one still runs."""
        for handler in tuple(self._handlers[name]):
            try:
                returned = handler(*args)
                if inspect.isawaitable(returned):
                    await returned
            except Exception:
                log.exception("%s hook %r failed (ignored: the job goes on)", name, handler)
