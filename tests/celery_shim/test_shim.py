"""The Celery-shaped API in one process (memory engine): eager runs through the worker's
``execute``, settings, refusals, results, signatures and ``mock.patch`` targets."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from unittest import mock

import pytest

from lexigram_compat import ConfigurationError, TaskValidationError, UnsupportedOptionError
from lexigram_compat.celery import Celery, Signature, Task, current_app
from lexigram_compat.celery.exceptions import MaxRetriesExceededError, TimeoutError
from tests.celery_shim.proj import tasks_basic, tasks_calls


@pytest.fixture
def app() -> Iterator[Celery]:
    shim = Celery("unit", broker="memory://", set_as_current=False)
    yield shim
    shim.close()


class Flaky(Exception):
    pass


def test_apply_runs_retries_at_once_through_the_same_policy(app: Celery) -> None:
    seen: list[tuple[str | None, int, bool]] = []

    @app.task(bind=True, max_retries=3, default_retry_delay=60)
    def flaky(self: Task, until: int) -> int:
        seen.append((self.request.id, self.request.retries, self.request.is_eager))
        if self.request.retries < until:
            raise self.retry(exc=Flaky(f"run {self.request.retries}"))
        return self.request.retries

    started = time.monotonic()
    result = flaky.apply((2,), task_id="eager-1")
    assert time.monotonic() - started < 30  # the 60 s retry delay is not waited eagerly
    assert (result.id, result.state, result.get(), result.retries) == ("eager-1", "SUCCESS", 2, 2)
    assert seen == [("eager-1", 0, True), ("eager-1", 1, True), ("eager-1", 2, True)]

    failed = flaky.apply((9,))
    assert (failed.state, failed.retries) == ("FAILURE", 3)
    assert isinstance(failed.result, Flaky)
    with pytest.raises(Flaky, match="run 3"):
        failed.get()


def test_apply_goes_through_serialisation_both_ways(app: Celery) -> None:
    @app.task
    def kinds(when: datetime, amount: Decimal) -> dict[str, str]:
        return {"when": type(when).__name__, "amount": type(amount).__name__}

    assert kinds.apply(("2026-01-02T03:04:05+00:00", "1.50")).get() == {
        "when": "datetime",
        "amount": "Decimal",
    }
    with pytest.raises(TaskValidationError, match="'when' is not valid for its annotation datetime"):
        kinds.apply((object(), "1"))
    with pytest.raises(TypeError, match="kinds"):
        kinds.apply((1, 2, 3))


def test_task_always_eager_and_eager_propagates(app: Celery) -> None:
    @app.task(max_retries=0)
    def boom() -> None:
        raise LookupError("nope")

    app.conf.task_always_eager = True
    assert tasks_basic.add.s(1).apply(args=(2,)).get() == 3
    eager = boom.delay()
    assert eager.state == "FAILURE"
    app.conf.update(task_eager_propagates=True)
    with pytest.raises(LookupError, match="nope"):
        boom.delay()


def test_delay_from_sync_code_enqueues_and_async_result_reads_the_job(app: Celery) -> None:
    @app.task(bind=True)
    def whoami(self: Task, x: int) -> dict[str, Any]:
        return {"id": self.request.id, "x": x, "headers": self.request.headers}

    result = whoami.apply_async((5,), headers={"trace": "t-1"}, countdown=0)
    assert (result.state, result.ready(), result.result) == ("PENDING", False, None)
    assert app.AsyncResult(result.id) == result
    app.tasks_app.run_worker_sync(until_idle=True)
    assert (result.state, result.ready(), result.successful()) == ("SUCCESS", True, True)
    assert result.get(timeout=5) == {"id": result.id, "x": 5, "headers": {"trace": "t-1"}}
    unknown = app.AsyncResult("no-such-job")
    assert unknown.state == "PENDING"
    started = time.monotonic()
    with pytest.raises(TimeoutError, match=r"did not finish within 0\.3s"):
        unknown.get(timeout=0.3, interval=0.05)
    assert 0.3 <= time.monotonic() - started < 5


def test_send_task_and_signatures(app: Celery) -> None:
    @app.task
    def join(a: str, b: str = "-", c: str = "") -> str:
        return a + b + c

    by_name = app.send_task(join.name, args=["x"], kwargs={"c": "z"})
    partial = join.s("p").delay(b="q")
    frozen = join.si("i", "j").delay("ignored")
    assert isinstance(join.signature(("s",), {"b": "t"}), Signature)
    via_signature = join.signature(("s",), {"b": "t"}).set(countdown=0).apply_async()
    app.tasks_app.run_worker_sync(until_idle=True)
    assert [r.get(timeout=5) for r in (by_name, partial, frozen, via_signature)] == ["x-z", "pq", "ij", "st"]


def test_custom_headers_are_request_attributes_as_on_celery(app: Celery) -> None:
    @app.task(bind=True)
    def tenant_of(self: Task) -> list[Any]:
        return [self.request.tenant, self.request.get("tenant"), self.request.get("absent", "-"),
                self.request.headers, hasattr(self.request, "absent")]  # fmt: skip

    result = tenant_of.apply_async(headers={"tenant": "acme"})
    plain = tenant_of.apply_async()
    app.tasks_app.run_worker_sync(until_idle=True)
    assert result.get(timeout=5) == ["acme", "acme", "-", {"tenant": "acme"}, False]
    assert plain.state == "FAILURE"  # no such header: AttributeError, as on Celery
    assert "no attribute or header 'tenant'" in str(plain.result)
    with pytest.raises(AttributeError, match="no attribute or header 'tenant'"):
        tenant_of.request.tenant  # noqa: B018 - outside a worker: no headers


def test_request_eta_is_an_iso_string_as_on_celery(app: Celery) -> None:
    @app.task(bind=True)
    def eta_of(self: Task) -> list[str | None]:
        eta = self.request.eta
        return [type(eta).__name__, eta if isinstance(eta, str) else None]

    before = datetime.now(UTC)
    delayed = eta_of.apply_async(countdown=0.2)
    at_once = eta_of.delay()
    app.tasks_app.run_worker_sync(until_idle=True)
    time.sleep(0.3)  # the delayed job is due
    app.tasks_app.run_worker_sync(until_idle=True)
    kind, eta = delayed.get(timeout=5)
    assert kind == "str"
    assert before + timedelta(seconds=0.2) <= datetime.fromisoformat(eta) <= before + timedelta(seconds=5)
    assert at_once.get(timeout=5) == ["NoneType", None]


def test_a_partial_signature_merges_the_call_arguments_as_celery_does(app: Celery) -> None:
    import celery

    @app.task
    def join(a: str, b: str = "-", c: str = "") -> str:
        return a + b + c

    real = celery.Celery("oracle", set_as_current=False).task(name="join")(join.fn)
    calls = [((("p",), {}), (("q",), {})), ((("p",), {"c": "!"}), ((), {"b": "b", "c": "?"}))]
    for (sig_args, sig_kwargs), (call_args, call_kwargs) in calls:
        merged_args, merged_kwargs, _ = real.s(*sig_args, **sig_kwargs)._merge(call_args, call_kwargs, {})
        expected = join.fn(*merged_args, **merged_kwargs)
        result = join.s(*sig_args, **sig_kwargs).delay(*call_args, **call_kwargs)
        app.tasks_app.run_worker_sync(until_idle=True)
        assert result.get(timeout=5) == expected, (sig_args, sig_kwargs, call_args, call_kwargs)
    assert join.s("p").apply(args=("q",)).get() == "qp"


def test_calling_a_task_runs_it_here_and_retry_there_reraises(app: Celery) -> None:
    @app.task(bind=True)
    def direct(self: Task, x: int) -> int:
        if x < 0:
            raise self.retry(exc=ValueError("negative"))
        assert self.request.called_directly
        return x * 2

    assert direct(4) == 8
    with pytest.raises(ValueError, match="negative"):
        direct(-1)


def test_retry_without_exc_after_max_retries_raises_max_retries_exceeded(app: Celery) -> None:
    @app.task(bind=True, max_retries=1, default_retry_delay=0)
    def again(self: Task) -> None:
        raise self.retry()

    result = again.apply()
    assert (result.state, result.retries) == ("FAILURE", 1)
    assert isinstance(result.result, MaxRetriesExceededError)


def test_mock_patch_of_delay_keeps_working() -> None:
    with mock.patch("tests.celery_shim.proj.tasks_basic.add.delay") as patched:
        patched.return_value.id = "patched"
        with mock.patch("tests.celery_shim.proj.tasks_basic.mul.apply_async") as patched_async:
            tasks_calls.fan_out.fn(2)  # the function itself, as a unit test calls it
    assert [c.args for c in patched.call_args_list] == [(0, 0), (1, 1)]
    assert patched_async.call_count == 2


@pytest.mark.parametrize(
    ("option", "value", "hint"),
    [
        ("serializer", "pickle", "always JSON"),
        ("max_retrys", 3, "did you mean 'max_retries'?"),
    ],
)
def test_unsupported_task_options_are_refused_naming_them(
    app: Celery, option: str, value: Any, hint: str
) -> None:
    with pytest.raises(UnsupportedOptionError, match=f"option {option}= is not supported") as refused:
        app.task(**{option: value})(lambda: None)
    assert refused.value.hint is not None
    assert hint in refused.value.hint


def test_other_refusals_name_the_option_and_the_alternative(app: Celery) -> None:
    with pytest.raises(UnsupportedOptionError, match="acks_late=False"):
        app.task(acks_late=False)(lambda: None)
    with pytest.raises(UnsupportedOptionError, match=r"retry_kwargs.*'interval'"):
        app.task(retry_kwargs={"interval": 1})(lambda: None)

    @app.task(bind=True)
    def retries_with_args(self: Task) -> None:
        raise self.retry(args=(1,), countdown=1)

    for call, message in (
        (lambda: tasks_basic.add.apply_async((1, 2), shadow="x"), "option shadow= is not supported"),
        (lambda: tasks_basic.add.apply_async((1, 2), link=None), "option link= is not supported"),
        (lambda: tasks_basic.add.s(1).set(routing_key="k"), "option routing_key= is not supported"),
    ):
        with pytest.raises(UnsupportedOptionError, match=message):
            call()
    result = retries_with_args.apply()
    assert isinstance(result.result, UnsupportedOptionError)
    assert "self.retry(args=...)" in str(result.result)
    assert app.tasks_app.is_started is False  # nothing above reached the engine


def test_serializer_settings_saying_json_are_accepted_and_others_refused() -> None:
    shim = Celery("json-settings", broker="memory://", set_as_current=False)
    shim.config_from_object(
        {
            "CELERY_TASK_SERIALIZER": "json",
            "CELERY_RESULT_SERIALIZER": "json",
            "CELERY_ACCEPT_CONTENT": ["application/json"],
            "CELERY_RESULT_ACCEPT_CONTENT": ("json",),
        },
        namespace="CELERY",
    )
    assert shim.conf.accept_content == ["application/json"]
    for key, value in [("task_serializer", "pickle"), ("accept_content", ["json", "pickle"]),
                       ("result_serializer", None)]:  # fmt: skip
        with pytest.raises(ConfigurationError, match=f"{key}=") as refused:
            shim.conf[key] = value
        assert "always JSON" in (refused.value.hint or "")
        assert key not in shim.conf or shim.conf[key] != value  # the refused value is not kept


def test_settings_are_read_from_an_object_and_unsupported_ones_refused() -> None:
    shim = Celery("settings", set_as_current=False)
    shim.config_from_object(
        {
            "CELERY_BROKER_URL": "redis://127.0.0.1:6379/9",
            "CELERY_TASK_DEFAULT_QUEUE": "orders",
            "CELERY_TASK_TIME_LIMIT": 30,
            "DEBUG": True,
        },
        namespace="CELERY",
    )
    config = shim.tasks_app.config
    assert (config.backend.type, config.backend.queue_name, config.worker.default_timeout) == (
        "redis",
        "orders",
        30,
    )
    shim.config_from_object("tests.celery_shim.no_such_settings", silent=True)
    with pytest.raises(ModuleNotFoundError, match="no_such_settings"):
        shim.config_from_object("tests.celery_shim.no_such_settings")
    with pytest.raises(ConfigurationError, match="'broker_url' changed after the app was first used"):
        shim.conf.broker_url = "memory://"
    beat = Celery("b", set_as_current=False)
    beat.config_from_object(
        {"CELERY_BEAT_SCHEDULE": {"tick": {"task": "t", "schedule": 60}}}, namespace="CELERY"
    )
    assert [(s.name, s.every) for s in beat.registry.schedules()] == [("tick", timedelta(seconds=60))]
    with pytest.raises(
        ConfigurationError, match=r"beat_schedule entry 'odd': schedule .* is not supported"
    ) as refused:
        beat.config_from_object(
            {"CELERY_BEAT_SCHEDULE": {"odd": {"task": "t", "schedule": object()}}}, namespace="CELERY"
        )
    assert refused.value.hint is not None
    assert "crontab(...), a timedelta" in refused.value.hint
    assert [s.name for s in beat.registry.schedules()] == ["tick"], "a refused dict replaced the schedules"
    with pytest.raises(ConfigurationError, match="'worker_concurrency'"):
        Celery("w", set_as_current=False).conf.update(worker_concurrency=4)
    with pytest.raises(ConfigurationError, match="broker_url with scheme 'sqs'"):
        _ = Celery("s", broker="sqs://", set_as_current=False).tasks_app
    with pytest.raises(ConfigurationError, match=r"Celery\('x', task_cls=...\) is not supported"):
        Celery("x", task_cls="a:B")
    included = Celery("i", include=["tests.celery_shim.included"], set_as_current=False)
    assert "tests.celery_shim.included" not in sys.modules
    assert included.tasks_app is not None
    assert "tests.celery_shim.included" in sys.modules
    with pytest.raises(ModuleNotFoundError, match="no_such_module"):
        _ = Celery("n", include=["tests.celery_shim.no_such_module"], set_as_current=False).tasks_app


def test_shared_tasks_join_every_app_and_call_through_the_current_one() -> None:
    first = Celery("first", set_as_current=False)
    assert first.registry.get(tasks_basic.mul.name) is tasks_basic.mul.neutral
    assert tasks_basic.mul.app is current_app()
    assert tasks_basic.add.app is not first


def test_a_scripts_task_is_named_after_its_app_as_celery_names_it(app: Celery) -> None:
    def report() -> str:
        return "ok"

    report.__module__ = "__main__"
    assert app.task(report).name == "unit.report"
    assert app.task(name="explicit")(lambda: None).name == "explicit"


def test_retry_max_retries_and_eta_override_the_declaration(app: Celery) -> None:
    @app.task(bind=True, max_retries=0)
    def patient(self: Task) -> int:
        if self.request.retries < 2:
            raise self.retry(max_retries=2, eta=datetime.now(UTC) + timedelta(seconds=0.1))
        return self.request.retries

    result = patient.delay()
    started = time.monotonic()
    app.tasks_app.run_worker_sync(until_idle=True)
    assert result.get(timeout=10) == 2
    info = app.queue_handle().get_job_sync(result.id)
    assert info is not None
    assert info.attempts == 3
    assert 0.2 <= time.monotonic() - started < 10  # two retries, each due 0.1 s after its failure
