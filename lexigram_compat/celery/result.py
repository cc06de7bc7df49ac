"""``AsyncResult`` (read from the job record) and ``EagerResult`` (an eager run)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

from lexigram_compat.celery import states
from lexigram_compat.celery.exceptions import TaskFailedError, TaskRevokedError, TimeoutError
from lexigram_compat.errors import UnsupportedOptionError
from lexigram_compat.outcomes import qualified_name

if TYPE_CHECKING:
    from lexigram_compat.celery.app import Celery
    from lexigram_compat.records import JobInfo

__all__ = ["AsyncResult", "EagerResult"]


def _failure_of(info: JobInfo) -> TaskFailedError:
    error_type, _, message = (info.last_error or "unknown: no error recorded").partition(": ")
    return TaskFailedError(info.job_id, error_type, message)


class AsyncResult:
    """The handle ``delay``/``apply_async``/``send_task`` return: ``id``, and the job's
    state and result read from its record (``get_job``) on the app's engine."""

    def __init__(self, id: str, app: Celery | None = None) -> None:
        from lexigram_compat.celery.app import current_app

        self.id = id
        self.app = app if app is not None else current_app()

    @property
    def task_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<AsyncResult: {self.id}>"

    def __str__(self) -> str:
        return self.id

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AsyncResult):
            return other.id == self.id
        return isinstance(other, str) and other == self.id

    def __hash__(self) -> int:
        return hash(self.id)

    def info_now(self) -> JobInfo | None:
        """The job's record now (None: unknown, or expired)."""
        return self.app.queue_handle().get_job_sync(self.id)

    @property
    def state(self) -> str:
        """``PENDING``, ``STARTED``, ``RETRY``, ``SUCCESS``, ``FAILURE`` or ``REVOKED``."""
        info = self.info_now()
        return states.state_of(info.status if info else None)

    status = state

    def ready(self) -> bool:
        return self.state in states.READY_STATES

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    @property
    def result(self) -> Any:
        """The return value once ``SUCCESS``, the failure once ``FAILURE``, else None."""
        info = self.info_now()
        state = states.state_of(info.status if info else None)
        if info is None or state not in states.READY_STATES:
            return None
        if state == states.SUCCESS:
            return info.result
        return _failure_of(info) if state == states.FAILURE else TaskRevokedError(self.id)

    def get(self, timeout: float | None = None, propagate: bool = True, interval: float = 0.5) -> Any:
        """Wait until the job finishes and return its result (``TimeoutError`` after
        ``timeout`` seconds; a failed job raises :class:`TaskFailedError` when
        ``propagate``)."""
        if not self.app.tasks_app.queue.backend.engine.capabilities.results:
            raise UnsupportedOptionError(
                f"AsyncResult({self.id!r}).get(): this app's engine keeps no results",
                hint="read the state from AsyncResult.state, or use an engine with results",
            )
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            info = self.info_now()
            state = states.state_of(info.status if info else None)
            if info is not None and state in states.READY_STATES:
                if state == states.SUCCESS:
                    return info.result
                error: Exception = _failure_of(info) if state == states.FAILURE else TaskRevokedError(self.id)
                if propagate:
                    raise error
                return error
            if deadline is not None and time.monotonic() >= deadline:
                raise TimeoutError(f"job {self.id} did not finish within {timeout}s (state {state})")
            time.sleep(interval if deadline is None else max(0.0, min(interval, deadline - time.monotonic())))


class EagerResult:
    """The outcome of an eager run (``apply()``, ``task_always_eager``)."""

    def __init__(self, id: str, state: str, value: Any, error: BaseException | None, retries: int) -> None:
        self.id = id
        self.state = state
        self.status = state
        self.retries = retries
        self._value = value
        self._error = error

    @property
    def task_id(self) -> str:
        return self.id

    def __repr__(self) -> str:
        return f"<EagerResult: {self.id}>"

    def ready(self) -> bool:
        return True

    def successful(self) -> bool:
        return self.state == states.SUCCESS

    def failed(self) -> bool:
        return self.state == states.FAILURE

    @property
    def result(self) -> Any:
        return self._error if self.state == states.FAILURE else self._value

    @property
    def traceback(self) -> str | None:
        if self._error is None:
            return None
        import traceback

        return "".join(traceback.format_exception(self._error))

    def get(self, timeout: float | None = None, propagate: bool = True, **_: Any) -> Any:
        """The return value; the task's own exception is raised when it failed (``propagate``)."""
        if self.state == states.FAILURE and self._error is not None:
            if propagate:
                raise self._error
            return self._error
        return self._value

    def error_type(self) -> str | None:
        """The failure's qualified type name, as the dead letter would name it."""
        return None if self._error is None else qualified_name(type(self._error))
