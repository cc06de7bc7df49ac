"""Quickstart: the whole life of background jobs on the embedded memory engine.

Run it with ``./scripts/quickstart`` (no server needed). It tells a story:
a welcome email sent by a task whose mailer comes from the container, a
flaky task that succeeds on its second attempt, a job that fails for good,
lands in the dead-letter queue and is replayed once the cause is fixed, and
a nightly schedule firing.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from datetime import UTC, datetime, timedelta

from lexigram_compat import (
    Container,
    JobStatus,
    RetryPolicy,
    TaskQueueProtocol,
    TaskRegistry,
    TasksApp,
    inject,
    scheduled,
    task,
)

registry = TaskRegistry()


class Mailer:
    """Stands in for an SMTP client; the container provides it to tasks."""

    def __init__(self) -> None:
        self.outbox: list[str] = []

    async def send(self, to: str, subject: str) -> None:
        self.outbox.append(f"{to}: {subject}")


class Inventory:
    """A warehouse API that is down until someone fixes it."""

    online = False


@task(registry=registry)
async def send_welcome_email(user_id: str, email: str, mailer: Mailer = inject()) -> None:
    await mailer.send(email, f"Welcome aboard, user {user_id}!")


flaky_calls: list[int] = []


@task(registry=registry, retry=RetryPolicy(max_attempts=3, base_delay=0.2, jitter=False))
async def sync_profile(user_id: str) -> str:
    flaky_calls.append(len(flaky_calls) + 1)
    if len(flaky_calls) == 1:
        raise ConnectionError("profile service timed out")
    return f"profile {user_id} synced"


@task(registry=registry, retry=RetryPolicy(max_attempts=2, base_delay=0.1, jitter=False))
async def reserve_stock(sku: str, quantity: int, inventory: Inventory = inject()) -> None:
    if not inventory.online:
        raise RuntimeError(f"inventory API unavailable while reserving {quantity} x {sku}")


@scheduled(cron="0 0 * * *", registry=registry)
async def cleanup_expired_sessions(mailer: Mailer = inject()) -> None:
    await mailer.send("ops@example.com", "expired sessions cleaned up")


def say(text: str) -> None:
    print(f"  {text}")


async def main() -> None:
    container = Container()
    mailer, inventory = Mailer(), Inventory()
    container.register(Mailer, mailer)
    container.register(Inventory, inventory)
    app = TasksApp.from_dict(
        {"tasks": {"backend": {"type": "memory"}, "retry": {"max_attempts": 3}}},
        container=container,
        registry=registry,
    )
    async with app:
        queue: TaskQueueProtocol = app.queue

        print("1. A task whose dependency comes from the container")
        job_id = (await queue.enqueue(send_welcome_email(user_id="42", email="ada@example.com"))).unwrap()
        say(f"enqueued send_welcome_email -> job {job_id[:8]}")
        await app.run_worker(until_idle=True)
        info = await queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.COMPLETED
        say(f"status: {info.status}; outbox: {mailer.outbox}")

        print("2. A flaky task retried by the policy")
        job_id = (await queue.enqueue(sync_profile("42"))).unwrap()
        await app.run_worker(until_idle=True)
        info = await queue.get_job(job_id)
        assert info is not None
        assert info.status is JobStatus.COMPLETED
        say(f"attempt 1 failed (profile service timed out), attempt {info.attempts} succeeded")
        say(f"result kept: {info.result!r}")

        print("3. A job that fails for good goes to the dead-letter queue")
        job_id = (await queue.enqueue(reserve_stock("SKU-1", 3))).unwrap()
        await app.run_worker(until_idle=True)
        dead = await app.dead_letters.get(job_id)
        assert dead is not None
        say(f"after {dead.attempts} attempts: {dead.error_type}: {dead.error_message}")
        say(f"dead letters: {await app.dead_letters.count()}")

        print("4. Fix the cause, replay the dead letter")
        inventory.online = True
        new_id = (await app.dead_letters.replay(job_id)).unwrap()
        await app.run_worker(until_idle=True)
        info = await queue.get_job(new_id)
        assert info is not None
        assert info.status is JobStatus.COMPLETED
        left = await app.dead_letters.count()
        say(f"replayed as job {new_id[:8]}: {info.status}; dead letters left: {left}")

        print("5. A nightly schedule fires (driven by an explicit clock)")
        scheduler = app.make_scheduler(start=datetime(2026, 1, 1, 12, tzinfo=UTC))
        fired = await scheduler.tick(datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=1))
        again = await scheduler.tick(datetime(2026, 1, 1, 12, tzinfo=UTC) + timedelta(days=1))
        await app.run_worker(until_idle=True)
        say(f"midnight fire time -> {len(fired)} job; ticking the same window again -> {len(again)} more")
        say(f"outbox now: {mailer.outbox[-1]}")
    print("Done: every job completed or was replayed; nothing was lost.")


if __name__ == "__main__":
    # Show the library's job log lines (retries, dead letters) inside the story.
    logging.basicConfig(stream=sys.stdout, level=logging.WARNING, format="    log> %(message)s")
    asyncio.run(main())
