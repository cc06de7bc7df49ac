"""The real ``dramatiq`` worker when the job-state store is down: nothing is lost."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import redis.asyncio

from lexigram_compat.envelope import JobEnvelope
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
