"""Celery's signals (``celery.signals``) over the lifecycle hooks of the shim's apps.

``from lexigram_compat.celery.signals import task_prerun`` then ``@task_prerun.connect``
(or ``task_prerun.connect(fn, sender=...)``): the receiver is called with Celery's
keyword arguments at the matching hook (:mod:`lexigram_compat.hooks`) of every
``TasksApp`` a shim :class:`~lexigram_compat.celery.Celery` app uses, on every engine.
The mapping and its differences are in ``docs/engines/celery.md`` ("Signals").

A signal connects its hook to an app only once it has a receiver, so an app with
no receivers pays nothing. A receiver that raises is logged; the others still run,
and the job is unaffected.
"""

from __future__ import annotations

import logging
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar, overload

from lexigram_compat.celery import states
from lexigram_compat.outcomes import Completed, RetryLater

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.job_context import JobContext

__all__ = [
    "Signal",
    "after_task_publish",
    "before_task_publish",
    "task_failure",
    "task_postrun",
    "task_prerun",
    "task_retry",
    "task_success",
    "worker_init",
    "worker_process_init",
    "worker_process_shutdown",
    "worker_ready",
    "worker_shutdown",
]

log = logging.getLogger("lexigram_compat.celery.signals")

Receiver = Callable[..., Any]
R = TypeVar("R", bound=Receiver)
_apps: weakref.WeakSet[TasksApp] = weakref.WeakSet()
_signals: list[Signal] = []


class Signal:
    """One Celery signal: ``connect``/``disconnect`` receivers, ``send`` to them.

    Args:
        name: Celery's name of the signal.
        hook: The lifecycle hook it is sent from.
        kwargs_of: The signal's ``(sender, keyword arguments)`` from the hook's arguments.
    """

    def __init__(self, name: str, hook: str, kwargs_of: Callable[..., tuple[Any, dict[str, Any]]]) -> None:
        self.name = name
        self.hook = hook
        self._kwargs_of = kwargs_of
        self.receivers: list[tuple[Receiver, Any]] = []
        _signals.append(self)

    def __repr__(self) -> str:
        return f"<Signal: {self.name} (hook {self.hook})>"

    @overload
    def connect(self, receiver: R, *, sender: Any = None, **_: Any) -> R: ...
    @overload
    def connect(self, receiver: None = None, *, sender: Any = None, **_: Any) -> Callable[[R], R]: ...
    def connect(self, receiver: R | None = None, *, sender: Any = None, **_: Any) -> R | Callable[[R], R]:
        """Call ``receiver(signal=..., sender=..., **kwargs)`` whenever the signal is sent
        (only for ``sender``, a task or task name, when given). A decorator too:
        ``@sig.connect`` or ``@sig.connect(sender=...)``. ``weak=``/``dispatch_uid=`` are
        accepted and ignored (receivers are held strongly, each once)."""
        if receiver is None:

            def register(fn: R) -> R:
                self.connect(fn, sender=sender)
                return fn

            return register
        if not callable(receiver):
            raise TypeError(f"{self.name}.connect({receiver!r}): the receiver must be callable")
        if (receiver, sender) not in self.receivers:
            self.receivers.append((receiver, sender))
        for app in list(_apps):
            self._bridge(app)
        return receiver

    def disconnect(self, receiver: Receiver, sender: Any = None) -> bool:
        """Stop calling ``receiver``; True when it was connected."""
        before = len(self.receivers)
        self.receivers = [
            (r, s) for r, s in self.receivers if not (r == receiver and (sender is None or s == sender))
        ]
        return len(self.receivers) != before

    def send(self, sender: Any, **kwargs: Any) -> list[tuple[Receiver, Any]]:
        """Call the receivers (each receiver's failure logged); their answers, in order."""
        answers = []
        for receiver, wanted in list(self.receivers):
            if wanted is not None and not _is_sender(sender, wanted):
                continue
            try:
                answers.append((receiver, receiver(signal=self, sender=sender, **kwargs)))
            except Exception as exc:
                log.exception("%s receiver %r failed", self.name, receiver)
                answers.append((receiver, exc))
        return answers

    def _fire(self, *args: Any) -> None:
        if self.receivers:
            sender, kwargs = self._kwargs_of(*args)
            self.send(sender, **kwargs)

    def _bridge(self, app: TasksApp) -> None:
        if self.receivers:
            app.hooks.on(self.hook, _bridge_of(self.hook))


_bridges: dict[str, Receiver] = {}


def _bridge_of(hook: str) -> Receiver:
    """The one handler ``hook`` sends its signals from, in Celery's order (their
    definition order below: ``worker_init``, ``worker_process_init``, ``worker_ready``)."""
    bridge = _bridges.get(hook)
    if bridge is None:

        def bridge(*args: Any) -> None:
            for signal in _signals:
                if signal.hook == hook:
                    signal._fire(*args)

        _bridges[hook] = bridge
    return bridge


def attach(app: TasksApp) -> None:
    """Send the signals from ``app``'s hooks (the shim calls this for the app it uses)."""
    if app not in _apps:
        _apps.add(app)
        for signal in _signals:
            signal._bridge(app)


def _is_sender(sender: Any, wanted: Any) -> bool:
    if sender is wanted or sender == wanted:
        return True
    return bool(getattr(sender, "name", None) == getattr(wanted, "name", wanted))


def _task_of(ctx: JobContext) -> Any:
    """The task object named by the job (Celery's ``sender``): the shim's, else the neutral
    ``@task`` of that name (a converted project's), else the name."""
    from lexigram_compat.celery.app import declared_named

    found = declared_named(ctx.task_name)
    return found if found is not None else ctx.task_name


def _publish(ctx: JobContext) -> tuple[Any, dict[str, Any]]:
    headers = {
        "lang": "py",
        "task": ctx.task_name,
        "id": ctx.job_id,
        "retries": ctx.retries,
        "eta": ctx.eta.isoformat() if ctx.eta is not None else None,
        "root_id": ctx.job_id,
        "parent_id": None,
        **ctx.headers,
    }
    body = (
        list(ctx.args),
        dict(ctx.kwargs),
        {"callbacks": None, "errbacks": None, "chain": None, "chord": None},
    )
    return ctx.task_name, {
        "body": body,
        "exchange": "",
        "routing_key": ctx.queue,
        "headers": headers,
        "properties": {"correlation_id": ctx.job_id},
        "declare": [],
        "retry_policy": None,
    }


def _run(ctx: JobContext) -> dict[str, Any]:
    return {"task_id": ctx.job_id, "task": _task_of(ctx), "args": ctx.args, "kwargs": dict(ctx.kwargs)}


def _prerun(ctx: JobContext) -> tuple[Any, dict[str, Any]]:
    run = _run(ctx)
    return run["task"], run


def _postrun(ctx: JobContext, outcome: Any) -> tuple[Any, dict[str, Any]]:
    run = _run(ctx)
    if isinstance(outcome, Completed):
        state, retval = states.SUCCESS, outcome.result
    elif isinstance(outcome, RetryLater):
        state, retval = states.RETRY, outcome.error
    else:
        state, retval = states.FAILURE, outcome.error
    return run["task"], {**run, "retval": retval, "state": state}


def _success(ctx: JobContext, result: Any) -> tuple[Any, dict[str, Any]]:
    return _task_of(ctx), {"result": result}


def _failure(ctx: JobContext, error: BaseException | None) -> tuple[Any, dict[str, Any]]:
    run = _run(ctx)
    traceback = error.__traceback__ if error is not None else None
    return run["task"], {**run, "exception": error, "traceback": traceback, "einfo": None}


def _retry(ctx: JobContext, error: BaseException | None, delay: float) -> tuple[Any, dict[str, Any]]:
    from lexigram_compat.celery.task import Request

    return _task_of(ctx), {"request": Request.of_job(ctx), "reason": error, "einfo": None}


def _worker(app: TasksApp) -> tuple[Any, dict[str, Any]]:
    return None, {}


before_task_publish = Signal("before_task_publish", "before_enqueue", _publish)
after_task_publish = Signal("after_task_publish", "enqueued", _publish)
worker_init = Signal("worker_init", "worker_started", _worker)
worker_process_init = Signal("worker_process_init", "worker_started", _worker)
worker_ready = Signal("worker_ready", "worker_started", _worker)
task_prerun = Signal("task_prerun", "attempt_started", _prerun)
task_success = Signal("task_success", "succeeded", _success)
task_retry = Signal("task_retry", "retried", _retry)
task_failure = Signal("task_failure", "dead_lettered", _failure)
task_postrun = Signal("task_postrun", "attempt_finished", _postrun)
worker_process_shutdown = Signal("worker_process_shutdown", "worker_stopped", _worker)
worker_shutdown = Signal("worker_shutdown", "worker_stopped", _worker)
