"""``@app.task(base=MyTask)``: a ``Task`` subclass's handlers are called with Celery's
arguments in Celery's order (interleaved with the signals as Celery sends them), in a
worker and in an eager ``apply()``; its class attributes are the task's defaults; what
cannot work is refused, naming it. (Memory engine, its own worker; every engine's
native worker: ``tests/conformance/test_celery_shim_bases.py``.)"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, ClassVar

import pytest

from lexigram_compat.celery import Celery, Task, signals
from lexigram_compat.celery.bases import ExceptionInfo
from lexigram_compat.celery.options import UNLIMITED_ATTEMPTS
from lexigram_compat.errors import UnsupportedOptionError

Call = tuple[str, Any]


@pytest.fixture
def app() -> Iterator[Celery]:
    # One job at a time: the next attempt of a job retried at once could start before
    # the hooks of the one before it end (in Celery too: the retry is sent first).
    shim = Celery("bases", broker="memory://", set_as_current=False,
                  config={"worker": {"max_concurrent_tasks": 1}})  # fmt: skip
    yield shim
    shim.close()


class Flaky(Exception):
    pass


class Audited(Task):
    """Records every handler call: (name, what the test compares)."""

    calls: ClassVar[list[Call]] = []

    def before_start(self, task_id: str | None, args: Any, kwargs: Any) -> None:
        self.calls.append(("before_start", (task_id == self.request.id, list(args), kwargs)))

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        self.calls.append(("__call__", args))
        return super().__call__(*args, **kwargs)

    def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
        self.calls.append(("on_success", (retval, task_id == self.request.id, args)))

    def on_retry(self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        self.calls.append(("on_retry", (repr(exc), isinstance(einfo, ExceptionInfo))))

    def on_failure(self, exc: BaseException | None, task_id: str, args: Any, kwargs: Any, einfo: Any) -> None:
        assert einfo is not None
        self.calls.append(("on_failure", (repr(exc), "Flaky" in einfo.traceback, self.request.retries)))

    def after_return(  # noqa: PLR0917 - Celery's signature
        self, status: str, retval: Any, task_id: str, args: Any, kwargs: Any, einfo: Any
    ) -> None:
        self.calls.append(("after_return", (status, repr(retval), einfo)))


@pytest.fixture
def calls() -> Iterator[list[Call]]:
    """Handler calls and the task signals, in the order they happened."""
    heard: list[Call] = []
    Audited.calls = heard
    relayed = (signals.task_prerun, signals.task_success, signals.task_retry, signals.task_failure,
               signals.task_postrun)  # fmt: skip

    def receiver(signal: signals.Signal, sender: Any, **kwargs: Any) -> None:
        heard.append((signal.name, None))

    for signal in relayed:
        signal.connect(receiver)
    yield heard
    for signal in relayed:
        assert signal.disconnect(receiver)


def _declare(app: Celery) -> tuple[Task, Task]:
    @app.task(base=Audited, name="base.add")
    def add(a: int, b: int) -> int:
        return a + b

    @app.task(base=Audited, name="base.flaky", bind=True, max_retries=1, default_retry_delay=0)
    def flaky(self: Task, until: int) -> int:
        if self.request.retries < until:
            raise self.retry(exc=Flaky(f"run {self.request.retries}"))
        return self.request.retries

    return add, flaky


SUCCESS: list[Call] = [
    ("task_prerun", None),
    ("before_start", (True, [2, 3], {})),
    ("__call__", (2, 3)),
    ("on_success", (5, True, [2, 3])),
    ("task_success", None),
    ("after_return", ("SUCCESS", "5", None)),
    ("task_postrun", None),
]
RETRY: list[Call] = [
    ("task_prerun", None),
    ("before_start", (True, [5], {})),
    ("__call__", (5,)),
    ("on_retry", ("Flaky('run 0')", True)),
    ("task_retry", None),
    ("task_postrun", None),
]
FAILURE: list[Call] = [
    ("task_prerun", None),
    ("before_start", (True, [5], {})),
    ("__call__", (5,)),
    ("on_failure", ("Flaky('run 1')", True, 1)),
    ("task_failure", None),
    ("after_return", ("FAILURE", "Flaky('run 1')", None)),
    ("task_postrun", None),
]


def test_handlers_run_in_celerys_order_between_the_signals_in_a_worker(
    app: Celery, calls: list[Call]
) -> None:
    add, flaky = _declare(app)

    add.delay(2, 3)
    app.tasks_app.run_worker_sync(until_idle=True)
    assert calls == SUCCESS
    calls.clear()

    flaky.delay(5)
    app.tasks_app.run_worker_sync(until_idle=True)
    assert calls == RETRY + FAILURE


def test_an_eager_apply_calls_the_handlers_too(app: Celery, calls: list[Call]) -> None:
    add, flaky = _declare(app)
    signals_only = {"task_prerun", "task_success", "task_retry", "task_failure", "task_postrun"}

    assert add.apply((2, 3)).get() == 5
    assert [c for c in calls if c[0] not in signals_only] == [c for c in SUCCESS if c[0] not in signals_only]
    calls.clear()
    assert flaky.apply((5,)).state == "FAILURE"
    assert [c for c in calls if c[0] not in signals_only] == [
        c for c in RETRY + FAILURE if c[0] not in signals_only
    ]


def test_a_raising_handler_is_logged_and_changes_no_outcome(
    app: Celery, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken(Task):
        def on_success(self, retval: Any, task_id: str, args: Any, kwargs: Any) -> None:
            raise RuntimeError("handler bug")

    @app.task(base=Broken, name="base.broken")
    def one() -> int:
        return 1

    result = one.delay()
    app.tasks_app.run_worker_sync(until_idle=True)
    assert result.get(timeout=5) == 1
    assert any("on_success handler raised" in r.getMessage() for r in caplog.records)


def test_a_raising_before_start_fails_the_attempt_as_in_celery(app: Celery) -> None:
    class Guarded(Task):
        def before_start(self, task_id: str | None, args: Any, kwargs: Any) -> None:
            raise PermissionError(f"{self.name} may not run")

    @app.task(base=Guarded, name="base.guarded")
    def never() -> int:
        return 1

    result = never.apply()
    assert result.state == "FAILURE"
    assert isinstance(result.result, PermissionError)


def test_class_attributes_are_defaults_under_the_decorators_options(app: Celery) -> None:
    class Patient(Task):
        autoretry_for = (ConnectionError,)
        max_retries = 4
        default_retry_delay = 0
        queue = "patient"
        time_limit = 30
        soft_time_limit = 20

    class MorePatient(Patient):
        max_retries = 6
        expires = None  # Celery's "not set": ignored

    @app.task(base=MorePatient, name="base.patient")
    def connect(fail: int) -> int:
        raise ConnectionError("refused")

    @app.task(base=Patient, name="base.overridden", max_retries=1, queue="other")
    def overridden() -> None:
        raise ConnectionError("refused")

    assert isinstance(connect, MorePatient)
    assert (connect.max_retries, connect.queue) == (6, "patient")
    assert (connect.neutral.timeout, connect.neutral.soft_timeout) == (30.0, 20.0)
    assert (overridden.max_retries, overridden.queue) == (1, "other")
    result = overridden.apply()
    assert (result.state, result.retries) == ("FAILURE", 1)  # autoretry_for from the class
    assert isinstance(result.result, ConnectionError)

    class Forever(Task):
        max_retries = None  # Celery's "retry forever", not "unset"

    forever = app.task(base=Forever, name="base.forever")(lambda: None)
    assert forever.max_retries is None
    assert forever.neutral.retry is not None
    assert forever.neutral.retry.max_attempts == UNLIMITED_ATTEMPTS


def test_what_cannot_work_is_refused_naming_it(app: Celery) -> None:
    class Pickled(Task):
        serializer = "pickle"
        rate_limit = None  # Celery's "not set": not refused

    with pytest.raises(
        UnsupportedOptionError, match=r"base=.*Pickled class attribute.*serializer="
    ) as refused:
        app.task(base=Pickled)(lambda: None)
    assert refused.value.hint is not None
    assert "always JSON" in refused.value.hint

    with pytest.raises(UnsupportedOptionError, match=r"is not a subclass of lexigram_compat\.celery\.Task"):
        app.task(base=object)(lambda: None)

    import celery

    class Native(celery.Task):  # type: ignore[misc]
        pass

    with pytest.raises(UnsupportedOptionError, match="is not a subclass") as native:
        app.task(base=Native)(lambda: None)
    assert native.value.hint is not None
    assert "instead of celery.Task" in native.value.hint

    class Stateful(Task):
        def __init__(self) -> None:
            self.cache: dict[str, Any] = {}

    with pytest.raises(UnsupportedOptionError, match=r"defines __init__ \(.*Stateful.__init__\)"):
        app.task(base=Stateful)(lambda: None)
