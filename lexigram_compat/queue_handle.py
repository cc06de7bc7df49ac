"""The ``TaskQueueProtocol`` implementation an app hands out, one per backend."""

from __future__ import annotations

import dataclasses
import difflib
import functools
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar

from lexigram_compat.calls import NO_OPTIONS, CallOptions, TaskCall, option_names
from lexigram_compat.config import redact_text
from lexigram_compat.connection_errors import unavailable_cause, unreachable_message
from lexigram_compat.errors import (
    BrokerUnavailableError,
    EnqueueOutcomeUnknownError,
    TaskQueueError,
    TaskValidationError,
    UnsupportedOptionError,
)
from lexigram_compat.job_context import job_context_of
from lexigram_compat.portal import call_in_loop
from lexigram_compat.queue import JobInfo, JobStatus
from lexigram_compat.result import Err, Ok, Result

if TYPE_CHECKING:
    from lexigram_compat.app import TasksApp
    from lexigram_compat.backends import Backend
    from lexigram_compat.dead_letters import DeadLetterQueue
    from lexigram_compat.enqueueing import PreparedJob

__all__ = ["QueueHandle", "engine_error", "engine_errors"]

log = logging.getLogger("lexigram_compat.queue")
T = TypeVar("T")


def engine_error(operation: str, exc: Exception) -> TaskQueueError:
    """The typed error an engine failure is reported as."""
    if isinstance(exc, TaskQueueError):
        return exc
    if isinstance(exc, OSError | TimeoutError) or unavailable_cause(exc) is not None:
        return BrokerUnavailableError(unreachable_message(operation, exc), cause=exc)
    log.error("%s failed unexpectedly: %s", operation, redact_text(f"{type(exc).__name__}: {exc}"))
    # Driver messages may quote a connection URL: never pass one on unredacted.
    return TaskQueueError(f"{operation} failed: {type(exc).__name__}: {redact_text(str(exc))}", cause=exc)


async def engine_errors(operation: str, make: Callable[[], Awaitable[T]]) -> Result[T, TaskQueueError]:
    """Run an engine call, turning every failure into a typed ``Err``."""
    try:
        return Ok(await make())
    except Exception as exc:
        return Err(engine_error(operation, exc))


def _enqueue_error(exc: Exception, jobs: Sequence[PreparedJob]) -> TaskQueueError:
    """The ``Err`` of a failed write; an unknown outcome carries the ids the jobs were
    written under, so that enqueueing them again with those ids cannot create them twice."""
    error = engine_error("enqueue", exc)
    if isinstance(error, EnqueueOutcomeUnknownError):
        error.details["job_ids"] = [job.envelope.job_id for job in jobs]
    return error


class QueueHandle:
    """Enqueue and inspect jobs on one backend (``app.queue``, ``app.queues[name]``)."""

    def __init__(self, app: TasksApp, backend: Backend) -> None:
        self._app = app
        self._backend = backend
        self.name = backend.name

    def __repr__(self) -> str:
        return f"<QueueHandle {self.name!r} on {self._backend.key}:{self._backend.queue_name}>"

    @property
    def backend(self) -> Backend:
        """The backend this queue object enqueues to by default."""
        return self._backend

    @property
    def dead_letters(self) -> DeadLetterQueue:
        """The dead letters of this queue's backend."""
        return self._app.dead_letter_queue_of(self._backend)

    def _started(self) -> TaskQueueError | None:
        return self._app.not_ready_error()

    async def _write(self, jobs: list[PreparedJob], connection: Any) -> Result[list[str], TaskQueueError]:
        hooks = self._app.hooks
        if hooks.registered:
            for job in jobs:
                await hooks.fire("before_enqueue", job_context_of(job.envelope))
            written = await self._write_jobs(jobs, connection)
            if isinstance(written, Ok):
                for job, job_id in zip(jobs, written.value, strict=True):
                    context = job_context_of(job.envelope)
                    if context.job_id != job_id:  # an idempotency key's holder
                        context = dataclasses.replace(context, job_id=job_id)
                    await hooks.fire("enqueued", context)
            return written
        return await self._write_jobs(jobs, connection)

    async def _write_jobs(
        self, jobs: list[PreparedJob], connection: Any
    ) -> Result[list[str], TaskQueueError]:
        if len(jobs) == 1:  # the common case, without the grouping below
            job = jobs[0]
            try:
                written_ids = await job.engine.enqueue([job.envelope], connection=connection)
            except Exception as exc:
                return Err(_enqueue_error(exc, jobs))
            self._app.events.enqueued(job.envelope, job.backend, written_ids[0])
            return Ok(written_ids)
        first = jobs[0].backend
        if all(job.backend is first for job in jobs):  # one backend: one call, no grouping
            try:
                ids = await first.engine.enqueue([job.envelope for job in jobs], connection=connection)
            except Exception as exc:
                return Err(_enqueue_error(exc, jobs))
            enqueued = self._app.events.enqueued
            for job, job_id in zip(jobs, ids, strict=True):
                enqueued(job.envelope, first, job_id)
            return Ok(ids)
        by_backend: dict[int, list[int]] = {}
        for index, job in enumerate(jobs):
            by_backend.setdefault(id(job.backend), []).append(index)
        ids = [""] * len(jobs)
        for indexes in by_backend.values():
            engine = jobs[indexes[0]].engine
            envelopes = [jobs[i].envelope for i in indexes]
            try:
                written = await engine.enqueue(envelopes, connection=connection)
            except Exception as exc:
                return Err(_enqueue_error(exc, jobs))
            for i, job_id in zip(indexes, written, strict=True):
                ids[i] = job_id
        for job, job_id in zip(jobs, ids, strict=True):
            self._app.events.enqueued(job.envelope, job.backend, job_id)
        return Ok(ids)

    async def enqueue(
        self,
        call: TaskCall,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
        headers: Mapping[str, Any] | None = None,
        expires: float | timedelta | datetime | None = None,
        compression: str | None = None,
    ) -> Result[str, TaskQueueError]:
        """Enqueue one call; ``Ok(job_id)`` or a typed ``Err`` (never raises).
        ``headers``: JSON-native values the task reads from its ``JobContext``."""
        if (
            delay is None
            and eta is None
            and queue is None
            and priority is None
            and job_id is None
            and idempotency_key is None
            and headers is None
            and expires is None
            and compression is None
        ):
            options = NO_OPTIONS  # the common call: no options object to build and compare
        else:
            options = CallOptions(
                delay, eta, queue, priority, job_id, idempotency_key, headers, expires, compression
            )
        return await self._enqueue_one(call, options, True, connection)

    async def _enqueue_one(
        self,
        call: TaskCall,
        options: CallOptions,
        registered: bool,
        connection: Any,
        fire_key: str | None = None,
    ) -> Result[str, TaskQueueError]:
        if (error := self._started()) is not None:
            return Err(error)
        try:
            job = self._app.builder.build(
                call,
                options,
                origin=self._backend,
                require_registered=registered,
                connection=connection,
                fire_key=fire_key,
            )
        except TaskQueueError as exc:
            return Err(exc)
        return (await self._write([job], connection)).map_sync(lambda ids: ids[0])

    async def enqueue_many(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]:
        """Enqueue many calls, all validated first (one round trip per backend)."""
        if (error := self._started()) is not None:
            return Err(error)
        try:
            jobs = self._app.builder.build_many(calls, origin=self._backend)
        except TaskQueueError as exc:
            return Err(exc)
        if not jobs:
            return Ok([])
        return await self._write(jobs, None)

    async def send_task(
        self,
        name: str,
        args: Sequence[Any] = (),
        kwargs: dict[str, Any] | None = None,
        **options: Any,
    ) -> Result[str, TaskQueueError]:
        """Enqueue by name without the local registry check (Celery's ``send_task``)."""
        unknown = sorted(set(options) - set(option_names()) - {"connection"})
        if unknown:
            close = difflib.get_close_matches(unknown[0], option_names(), n=1)
            return Err(
                UnsupportedOptionError(
                    f"send_task({name!r}): unknown option {unknown[0]!r}",
                    hint=(f"did you mean {close[0]!r}? " if close else "")
                    + f"valid options: {', '.join(option_names())}",
                )
            )
        connection = options.pop("connection", None)
        try:
            call = TaskCall(name, tuple(args), dict(kwargs or {}))
        except TypeError as exc:
            return Err(TaskValidationError(str(exc)))
        return await self._enqueue_one(call, CallOptions(**options), False, connection)

    async def get_job(self, job_id: str) -> JobInfo | None:
        """A snapshot of the job, or None when it is unknown (or expired)."""
        if self._started() is not None:
            return None
        for backend in self._app.backends_first(self._backend):
            info = await backend.engine.get_job(job_id)
            if info is not None:
                return self._typed_result(info)
        return None

    def _typed_result(self, info: JobInfo) -> JobInfo:
        # Engines keep the JSON form; the caller gets the task's return type back
        # (a Decimal, not '3.960'), as its arguments reach the task.
        task = self._app.registry.get(info.task_name)
        if info.result is None or task is None:
            return info
        return dataclasses.replace(info, result=task.params.decode_result(info.result))

    async def cancel(self, job_id: str) -> Result[bool, TaskQueueError]:
        """Cancel a job that has not started: ``Ok(True)``; ``Ok(False)`` if too late or unknown."""
        if (error := self._started()) is not None:
            return Err(error)
        for backend in self._app.backends_first(self._backend):
            if not backend.engine.capabilities.cancel:
                continue
            done = await engine_errors("cancel", functools.partial(backend.engine.cancel, job_id))
            if done.is_err() or done.unwrap():
                return done
        if not self._backend.engine.capabilities.cancel:
            return Err(UnsupportedOptionError(f"cancel is not supported on the {self._backend.key} engine"))
        return Ok(False)

    async def count(self, queue_name: str | None = None, status: JobStatus | None = None) -> int:
        """Jobs in a queue (default: this backend's); ``status=None`` counts waiting jobs."""
        backend, physical = self._app.backend_set.route(queue_name, self._backend)
        return await backend.engine.count(physical, status)

    async def clear(self, queue_name: str | None = None) -> int:
        """Remove waiting jobs from a queue; return how many."""
        backend, physical = self._app.backend_set.route(queue_name, self._backend)
        return await backend.engine.clear(physical)

    async def close(self) -> None:
        """Close the app this queue belongs to (queues share the app's connections)."""
        await self._app.close()

    # -- sync twins: one derivation, through the app's loop -----------------
    def _sync(self, make: Callable[[], Awaitable[T]]) -> T:
        return call_in_loop(self._app.loop, make)

    def enqueue_sync(
        self,
        call: TaskCall,
        *,
        delay: float | None = None,
        eta: datetime | None = None,
        queue: str | None = None,
        priority: int | None = None,
        job_id: str | None = None,
        idempotency_key: str | None = None,
        connection: Any = None,
        headers: Mapping[str, Any] | None = None,
        expires: float | timedelta | datetime | None = None,
        compression: str | None = None,
    ) -> Result[str, TaskQueueError]:
        """Sync twin of :meth:`enqueue`."""
        return self._sync(
            lambda: self.enqueue(
                call,
                delay=delay,
                eta=eta,
                queue=queue,
                priority=priority,
                job_id=job_id,
                idempotency_key=idempotency_key,
                connection=connection,
                headers=headers,
                expires=expires,
                compression=compression,
            )
        )

    def enqueue_many_sync(self, calls: Sequence[TaskCall]) -> Result[list[str], TaskQueueError]:
        """Sync twin of :meth:`enqueue_many`."""
        return self._sync(lambda: self.enqueue_many(calls))

    def send_task_sync(
        self, name: str, args: Sequence[Any] = (), kwargs: dict[str, Any] | None = None, **options: Any
    ) -> Result[str, TaskQueueError]:
        """Sync twin of :meth:`send_task`."""
        return self._sync(lambda: self.send_task(name, args, kwargs, **options))

    def get_job_sync(self, job_id: str) -> JobInfo | None:
        """Sync twin of :meth:`get_job`."""
        return self._sync(lambda: self.get_job(job_id))

    def cancel_sync(self, job_id: str) -> Result[bool, TaskQueueError]:
        """Sync twin of :meth:`cancel`."""
        return self._sync(lambda: self.cancel(job_id))

    def count_sync(self, queue_name: str | None = None, status: JobStatus | None = None) -> int:
        """Sync twin of :meth:`count`."""
        return self._sync(lambda: self.count(queue_name, status))

    def clear_sync(self, queue_name: str | None = None) -> int:
        """Sync twin of :meth:`clear`."""
        return self._sync(lambda: self.clear(queue_name))
