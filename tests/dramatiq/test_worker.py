"""The real ``dramatiq`` worker when the job-state store is down: nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio

from lexigram_compat.envelope import JobEnvelope
from lexigram_compat.queue import JobStatus
from tests.conformance import jobs
from tests.conformance.engines.dramatiq import SPECS, STATE_DB, RabbitmqHarness
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.services import Service

DEAD_REDIS = "redis://127.0.0.1:1/0"


class StateDownHarness(RabbitmqHarness):
    """RabbitMQ up, the job-state Redis unreachable."""

    def own_section(self, services: Mapping[str, Any]) -> dict[str, Any]:
        section = super().own_section(services)
        return deep_merge(section, {"backend": {"state_url": DEAD_REDIS}})

    async def start(self) -> None:
        await super().start()
        # The harness's own client must reach a live Redis for its cleanup.
        await self.client.aclose()
        self.client = redis.asyncio.Redis.from_url(
            f"{self.services['redis_service'].url.rstrip('/')}/{STATE_DB}"
        )


async def test_a_delivery_the_worker_cannot_record_goes_back_to_the_queue(
    rabbitmq_service: Service, redis_service: Service, tmp_path: Path
) -> None:
    services = {"rabbitmq_service": rabbitmq_service, "redis_service": redis_service}
    [spec] = [s for s in SPECS if s.key == "dramatiq-rabbitmq"]
    section = deep_merge(SUITE_SECTION, spec.section)
    harness = StateDownHarness(spec.key, section, tmp_path / "recorder.jsonl", services)
    await harness.start()
    try:
        envelope = JobEnvelope(
            job_id="state-down", task_name="conformance.noop", queue=harness.default_queue, args=["x"]
        )
        await harness.push_envelope(envelope)
        await harness.start_worker()
        await harness.wait_for_log(r"state-down: the worker could not record this delivery")
        await harness.stop_worker()

        def waiting() -> tuple[int, int, int]:
            broker: Any = harness.engine_object.native
            counts: tuple[int, int, int] = broker.get_queue_message_counts(harness.default_queue)
            return counts

        ready, delayed, dead = await asyncio.to_thread(waiting)
        assert (ready + delayed, dead) == (1, 0)  # back on its queue, not lost, not dead
        assert harness.recorder.entries("noop") == []
    finally:
        await harness.close()


async def test_a_job_whose_dead_letter_queue_vanished_runs_once_and_is_dead_lettered(
    rabbitmq_service: Service, redis_service: Service, tmp_path: Path
) -> None:
    # Recording an attempt that already ran (here: its dead letter on a deleted
    # .XQ queue) is retried on its own; the job is never run again for it.
    services = {"rabbitmq_service": rabbitmq_service, "redis_service": redis_service}
    [spec] = [s for s in SPECS if s.key == "dramatiq-rabbitmq"]
    harness = RabbitmqHarness(
        spec.key, deep_merge(SUITE_SECTION, spec.section), tmp_path / "r.jsonl", services
    )
    await harness.start()
    try:
        await harness.start_worker()
        # A first job: both processes have declared the queue (and its .XQ) by now.
        first = (await harness.app.queue.enqueue(jobs.noop("first"))).unwrap()
        await harness.wait_for(first, JobStatus.COMPLETED)

        def delete_xq() -> None:
            broker: Any = harness.engine_object.native
            broker.channel.queue_delete(queue=f"{harness.default_queue}.XQ")

        await asyncio.to_thread(delete_xq)
        job_id = (await harness.app.queue.enqueue(jobs.rejects("xq-gone"))).unwrap()

        async def dead_lettered() -> bool:
            return await harness.app.dead_letters.count() == 1

        await harness.wait_until(dead_lettered, "the job is in the dead letters")
        assert (await harness.info(job_id)).status is JobStatus.FAILED
        await harness.stop_worker()
        assert harness.recorder.runs("rejects", "xq-gone") == 1
    finally:
        await harness.close()
