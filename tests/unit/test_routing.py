"""Named queues: routing by task/call queue name to named backends or physical queues."""

from __future__ import annotations

from typing import Annotated

from lexigram_compat import (
    JobStatus,
    Named,
    Task,
    TaskConfig,
    TaskQueueProtocol,
    TaskRegistry,
    TasksApp,
    inject,
    task,
)


def _app(registry: TaskRegistry) -> TasksApp:
    config = TaskConfig.from_dict(
        {
            "tasks": {
                "backend": {"type": "memory", "queue_name": "tasks"},
                "scheduler": {"enabled": False},
                "backends": [{"name": "emails", "type": "memory", "queue_name": "mail"}],
            }
        },
        environ={},
    )
    return TasksApp(config, registry=registry)


NoArgTask = Task[[], None]


def _tasks(registry: TaskRegistry, ran: list[str]) -> tuple[NoArgTask, NoArgTask, NoArgTask]:
    @task(registry=registry, name="send", queue="emails")
    def send() -> None:
        ran.append("send")

    @task(registry=registry, name="report", queue="reports")
    def report() -> None:
        ran.append("report")

    @task(registry=registry, name="plain")
    def plain() -> None:
        ran.append("plain")

    return send, report, plain


async def test_queue_names_route_to_named_backends_or_physical_queues() -> None:
    registry, ran = TaskRegistry(), list[str]()
    send, report, plain = _tasks(registry, ran)
    async with _app(registry) as app:
        send_id = (await app.queue.enqueue(send())).unwrap()
        (await app.queue.enqueue(report())).unwrap()
        (await app.queue.enqueue(plain())).unwrap()
        assert await app.queues["emails"].count() == 1  # the named backend's own queue "mail"
        assert await app.queue.count("emails") == 1  # the same, named from the primary
        assert await app.queue.count("reports") == 1  # a physical queue on the primary backend
        assert await app.queue.count() == 1  # the primary's default queue "tasks"
        info = await app.queue.get_job(send_id)  # looked up across backends
        assert info is not None
        assert info.queue == "mail"


async def test_a_worker_consumes_only_the_queues_it_is_given() -> None:
    registry, ran = TaskRegistry(), list[str]()
    send, report, plain = _tasks(registry, ran)
    async with _app(registry) as app:
        for call in (send(), report(), plain()):
            (await app.queue.enqueue(call)).unwrap()
        await app.run_worker(until_idle=True, queues=["reports"])
        assert ran == ["report"]
        await app.run_worker(until_idle=True, queues=["emails"])
        assert ran == ["report", "send"]
        await app.run_worker(until_idle=True)
        assert ran == ["report", "send", "plain"]


async def test_call_option_queue_overrides_the_task_queue() -> None:
    registry, ran = TaskRegistry(), list[str]()
    send, _, _ = _tasks(registry, ran)
    async with _app(registry) as app:
        job_id = (await app.queue.enqueue(send().options(queue="bulk"))).unwrap()
        assert await app.queue.count("bulk") == 1
        await app.run_worker(until_idle=True, queues=["bulk"])
        info = await app.queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.COMPLETED


async def test_named_queue_is_injected_into_tasks() -> None:
    registry = TaskRegistry()
    seen: list[str] = []

    @task(registry=registry, name="fanout")
    async def fanout(emails: Annotated[TaskQueueProtocol, Named("emails")] = inject()) -> None:
        seen.append(emails.name)

    async with _app(registry) as app:
        (await app.queue.enqueue(fanout())).unwrap()
        await app.run_worker(until_idle=True)
    assert seen == ["emails"]
