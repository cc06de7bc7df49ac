"""Dependency injection: the built-in ``Container``, pluggable resolvers, and the app's own types."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import pytest

from lexigram_compat import (
    Container,
    DeadLetterQueue,
    DependencyResolutionError,
    Inject,
    JobStatus,
    Named,
    TaskConfig,
    TaskQueueProtocol,
    TaskRegistry,
    TasksApp,
    inject,
    task,
)
from lexigram_compat.di.injection import resolve_missing, resolve_missing_sync
from lexigram_compat.di.markers import named
from lexigram_compat.testing import drain, memory_app

EMAILS = [{"name": "emails", "type": "memory", "queue_name": "emails"}]


class Mailer:
    def __init__(self, sender: str = "factory") -> None:
        self.sender = sender


class Clock:
    pass


@pytest.fixture
def registry() -> TaskRegistry:
    return TaskRegistry()


# --- the built-in container ----------------------------------------------------------


def test_instances_resolve_to_themselves() -> None:
    container = Container()
    mailer = Mailer("instance")
    container.register(Mailer, mailer)
    container.register(str, "hello")
    assert container.resolve(Mailer) is mailer
    assert container.resolve(str) == "hello"
    assert Mailer in container
    assert Clock not in container


def test_factories_are_singletons_by_default() -> None:
    calls: list[int] = []

    def make() -> Mailer:
        calls.append(1)
        return Mailer("made")

    container = Container()
    container.register(Mailer, make)
    container.register(Clock, Clock)
    first: Mailer = container.resolve(Mailer)
    assert container.resolve(Mailer) is first
    assert first.sender == "made"
    assert len(calls) == 1
    assert isinstance(container.resolve(Clock), Clock)
    assert container.resolve(Clock) is container.resolve(Clock)


def test_non_singleton_factories_build_each_time() -> None:
    container = Container()
    container.register(Clock, Clock, singleton=False)
    container.register(Mailer, lambda: Mailer("lambda"), singleton=False)
    assert container.resolve(Clock) is not container.resolve(Clock)
    assert container.resolve(Mailer) is not container.resolve(Mailer)
    assert container.resolve(Mailer).sender == "lambda"


def test_callable_objects_are_instances_not_factories() -> None:
    class Handler:
        def __call__(self) -> str:
            return "called"

    handler = Handler()
    container = Container()
    container.register(Handler, handler)
    assert container.resolve(Handler) is handler


def test_named_bindings_are_separate_from_the_unnamed_one() -> None:
    container = Container()
    primary, backup = Mailer("primary"), Mailer("backup")
    container.register(Mailer, primary)
    container.register(Mailer, backup, name="backup")
    assert container.resolve(Mailer) is primary
    assert container.resolve(Mailer, "backup") is backup
    with pytest.raises(LookupError, match="no binding for Mailer named 'other'"):
        container.resolve(Mailer, "other")


def test_unknown_type_is_a_lookup_error_naming_it() -> None:
    with pytest.raises(LookupError, match="no binding for Clock"):
        Container().resolve(Clock)
    assert named("emails") == Named("emails")
    assert repr(inject()) == "inject()"


# --- resolving a task's parameters ---------------------------------------------------


async def test_missing_parameters_resolve_by_type_and_name(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def job(
        user_id: str,
        mailer: Mailer,
        backup: Annotated[Mailer, Named("backup")],
        clock: Annotated[Clock, Inject("wall")],
        *args: int,
        **kwargs: int,
    ) -> None:
        return None

    container = Container()
    container.register(Mailer, Mailer("primary"))
    container.register(Mailer, Mailer("backup"), name="backup")
    container.register(Clock, Clock, name="wall")
    resolved = await resolve_missing(job, {"user_id"}, container)
    assert set(resolved) == {"mailer", "backup", "clock"}
    assert (resolved["mailer"].sender, resolved["backup"].sender) == ("primary", "backup")
    assert isinstance(resolved["clock"], Clock)
    supplied = {"user_id", "mailer", "backup", "clock"}
    assert await resolve_missing(job, supplied, Container()) == {}


async def test_any_resolver_object_works_sync_or_async(registry: TaskRegistry) -> None:
    seen: list[tuple[Any, str | None]] = []

    class SyncResolver:
        def resolve(self, key: Any, name: str | None = None) -> Any:
            seen.append((key, name))
            return Mailer(f"sync:{name}")

    class AsyncResolver:
        async def resolve(self, key: Any, name: str | None = None) -> Any:
            return Mailer(f"async:{name}")

    @task(registry=registry)
    async def job(mailer: Annotated[Mailer, Named("x")]) -> None:
        return None

    assert (await resolve_missing(job, set(), SyncResolver()))["mailer"].sender == "sync:x"
    assert seen == [(Mailer, "x")]
    assert (await resolve_missing(job, set(), AsyncResolver()))["mailer"].sender == "async:x"


def test_sync_resolution_takes_an_async_resolver_that_does_not_wait(registry: TaskRegistry) -> None:
    class AsyncResolver:
        async def resolve(self, key: Any, name: str | None = None) -> Any:
            return Mailer("async")

    @task(registry=registry)
    def job(mailer: Mailer) -> None:
        return None

    resolved = resolve_missing_sync(job, set(), AsyncResolver())
    assert isinstance(resolved["mailer"], Mailer)
    assert resolved["mailer"].sender == "async"


def test_sync_resolution_refuses_a_resolver_that_really_waits(registry: TaskRegistry) -> None:
    class WaitingResolver:
        async def resolve(self, key: Any, name: str | None = None) -> Any:
            await asyncio.sleep(0)
            return Mailer()

    @task(registry=registry)
    def job(mailer: Mailer) -> None:
        return None

    with pytest.raises(DependencyResolutionError, match="asynchronously"):
        resolve_missing_sync(job, set(), WaitingResolver())


async def test_defaults_are_used_when_nothing_resolves(registry: TaskRegistry) -> None:
    fallback = Mailer("default")

    @task(registry=registry)
    async def job(mailer: Mailer = fallback, retries=3) -> None:  # type: ignore[no-untyped-def]
        return None

    assert await resolve_missing(job, set(), Container()) == {}
    assert await resolve_missing(job, set(), None) == {}
    container = Container()
    container.register(Mailer, Mailer("bound"))
    assert (await resolve_missing(job, set(), container))["mailer"].sender == "bound"


async def test_inject_sentinel_fails_naming_parameter_and_type(registry: TaskRegistry) -> None:
    @task(name="welcome", registry=registry)
    async def job(mailer: Annotated[Mailer, Named("smtp")] = inject()) -> None:
        return None

    with pytest.raises(DependencyResolutionError) as info:
        await resolve_missing(job, set(), Container())
    message = info.value.message
    assert "welcome(): cannot resolve parameter 'mailer' of type Mailer named 'smtp'" in message
    assert isinstance(info.value.__cause__, LookupError)


async def test_resolver_failures_other_than_lookup_are_reported(registry: TaskRegistry) -> None:
    class Broken:
        def resolve(self, key: Any, name: str | None = None) -> Any:
            raise RuntimeError("database down")

    @task(registry=registry)
    async def job(mailer: Mailer = Mailer()) -> None:  # noqa: B008
        return None

    with pytest.raises(DependencyResolutionError, match="RuntimeError: database down"):
        await resolve_missing(job, set(), Broken())


async def test_unannotated_parameter_without_a_value_is_an_error(registry: TaskRegistry) -> None:
    @task(name="raw", registry=registry)
    async def job(thing) -> None:  # type: ignore[no-untyped-def]
        return None

    with pytest.raises(DependencyResolutionError, match="'thing' was not supplied and has no type"):
        await resolve_missing(job, set(), Container())


# --- through the app and its worker --------------------------------------------------


async def test_worker_injects_and_job_arguments_win(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def greet(user: str, mailer: Mailer = inject()) -> str:
        return f"{user}:{mailer.sender}"

    container = Container()
    container.register(Mailer, Mailer("container"))
    async with memory_app(registry=registry, container=container) as app:
        from_container = (await app.queue.enqueue(greet("ada"))).unwrap()
        given = (await app.queue.send_task(greet.name, kwargs={"user": "bob", "mailer": None})).unwrap()
        await drain(app)
        first = await app.queue.get_job(from_container)
        second = await app.queue.get_job(given)
    assert first is not None
    assert (first.status, first.result) == (JobStatus.COMPLETED, "ada:container")
    # The job's own value (None, which has no .sender) wins over the container.
    assert second is not None
    assert second.status is JobStatus.FAILED
    assert "sender" in (second.last_error or "")


async def test_unresolvable_dependency_fails_the_attempt_with_a_clear_error(registry: TaskRegistry) -> None:
    @task(name="needs.clock", registry=registry)
    async def needs(clock: Clock = inject()) -> None:
        return None

    async with memory_app(registry=registry, retry={"max_attempts": 1}) as app:
        job_id = (await app.queue.enqueue(needs())).unwrap()
        await drain(app)
        letter = await app.dead_letters.get(job_id)
    assert letter is not None
    assert letter.error_type == "lexigram_compat.errors.DependencyResolutionError"
    assert "parameter 'clock' of type Clock" in letter.error_message


async def test_app_resolver_answers_its_own_types_first(registry: TaskRegistry) -> None:
    user = Container()
    user.register(Mailer, Mailer("user"))
    user.register(TaskConfig, "shadowed")
    async with memory_app(registry=registry, container=user, backends=EMAILS) as app:
        resolver = app.container
        assert resolver.resolve(TaskQueueProtocol) is app.queue
        assert resolver.resolve(TaskQueueProtocol, "emails") is app.queues["emails"]
        assert app.queues["emails"] is not app.queue
        assert resolver.resolve(DeadLetterQueue) is app.dead_letters
        assert resolver.resolve(TaskConfig) is app.config
        assert resolver.resolve(TasksApp) is app
        assert resolver.resolve(Mailer).sender == "user"
        with pytest.raises(LookupError, match="no queue named 'reports'"):
            resolver.resolve(TaskQueueProtocol, "reports")
        with pytest.raises(LookupError, match="no binding for Clock"):
            resolver.resolve(Clock)
    assert app.user_container is user


async def test_worker_injects_primary_and_named_queues(registry: TaskRegistry) -> None:
    @task(registry=registry)
    async def route(
        primary: TaskQueueProtocol = inject(),
        emails: Annotated[TaskQueueProtocol, Named("emails")] = inject(),
        config: TaskConfig = inject(),
    ) -> list[str]:
        return [primary.name, emails.name, str(config.max_payload_bytes)]

    async with memory_app(registry=registry, backends=EMAILS, max_payload_bytes=4096) as app:
        job_id = (await app.queue.enqueue(route())).unwrap()
        await drain(app, fail_fast=True)
        info = await app.queue.get_job(job_id)
    assert info is not None
    assert info.result == ["default", "emails", "4096"]


async def test_without_a_user_container_unknown_types_are_lookup_errors(registry: TaskRegistry) -> None:
    with pytest.raises(TypeError, match="has no resolve"):
        TasksApp(container=object())  # type: ignore[arg-type]
    async with memory_app(registry=registry) as app:
        with pytest.raises(LookupError, match="nothing registered for 'Clock'"):
            app.container.resolve(Clock)
