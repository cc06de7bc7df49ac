"""The native PostgreSQL engine: ``lexigram-compat worker`` in a subprocess, one
database per test (copied from a migrated template)."""

from __future__ import annotations

from typing import Any

from lexigram_compat.adapters.postgres import PostgresEngine
from tests.postgres.databases import ScratchDatabase, create_test_database

from ..harness import EngineSpec, deep_merge
from ..subprocess_harness import SubprocessHarness, python_module_argv

__all__ = ["SPECS", "PostgresHarness"]


class PostgresHarness(SubprocessHarness):
    """A fresh database per test; the real worker CLI runs the jobs."""

    _database: ScratchDatabase | None = None

    async def start(self) -> None:
        server = self.services["postgres_service"]
        self._database = await create_test_database(server.url)
        self.section = deep_merge(self.section, {"backend": {"postgres_dsn": self._database.dsn}})
        await super().start()

    async def close(self) -> None:
        try:
            await super().close()
        finally:
            if self._database is not None:
                await self._database.drop()

    def worker_argv(self) -> list[str]:
        return python_module_argv(
            "lexigram_compat.cli", "--log-level", "info", "worker", "tests.conformance.worker_app:app"
        )

    async def wait_ready(self) -> None:
        # Logged once the app has connected, just before the worker loop runs (a
        # stop sent earlier is honoured too, once connected, with nothing run).
        await self.wait_for_log(r"worker started")

    async def idle(self) -> bool:
        # One statement over every queue: counting status by status could miss a
        # job moving from retrying to running between two counts.
        queues = [q for backend in self.app.backend_set for q in backend.queues()]
        return (await self._engine.job_source().work_state(queues)).idle

    @property
    def _engine(self) -> PostgresEngine:
        engine = self.app.queue.backend.engine
        assert isinstance(engine, PostgresEngine)
        return engine

    async def push_raw(self, queue: str, payload: bytes) -> None:
        import uuid

        await self._engine.push_raw(queue, payload, f"raw-{uuid.uuid4()}")

    async def push_envelope(self, envelope: Any) -> None:
        # A broker delivers a message under its own id: keep the envelope's.
        await self._engine.push_raw(envelope.queue, envelope.to_bytes(), envelope.job_id)


SECTION = {
    "engine": "native",
    "backend": {"type": "postgres", "postgres_dsn": "postgresql://placeholder/replaced-per-test"},
    # A short lease so the crash probe's rescue comes quickly; heartbeats keep live jobs.
    "worker": {"lease_seconds": 2.0, "heartbeat_interval": 0.4},
}

SPECS = [EngineSpec("postgres", SECTION, PostgresHarness, fixtures=("postgres_service",))]
