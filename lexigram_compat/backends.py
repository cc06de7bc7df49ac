"""The app's backends: the primary one and the named ``tasks.backends`` entries.

Routing rule for a queue name ``q`` (from ``@task(queue=...)`` or the call):
``None`` → the default queue of the queue object enqueued through; ``q`` equal
to a named backend's ``name`` → that backend, on its ``queue_name``; any other
``q`` → a queue of that name on the same backend as the queue object.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lexigram_compat.config import BackendConfig, TaskConfig, resolve_engine
from lexigram_compat.engine_registry import engine_class, engine_key

if TYPE_CHECKING:
    from lexigram_compat.engine_contract import Engine
    from lexigram_compat.registry import TaskRegistry

__all__ = ["PRIMARY", "Backend", "BackendSet"]

PRIMARY = "default"


@dataclass(eq=False)
class Backend:
    """One configured backend and its engine instance."""

    name: str
    config: BackendConfig
    engine_name: str
    engine: Engine
    extra_queues: set[str] = field(default_factory=set)

    @property
    def key(self) -> str:
        """The engine-and-broker label (``memory``, ``dramatiq-redis``...)."""
        return engine_key(self.engine_name, self.config.type)

    @property
    def queue_name(self) -> str:
        return self.config.queue_name

    def queues(self) -> list[str]:
        """Every physical queue this backend serves, default first."""
        return [self.queue_name, *sorted(self.extra_queues - {self.queue_name})]


class BackendSet:
    """All backends of an app, built from config."""

    def __init__(self, config: TaskConfig) -> None:
        self.config = config
        self._by_name: dict[str, Backend] = {}
        primary_entry = next((b for b in config.backends if b.primary), None)
        main = self._build(PRIMARY, config.backend, config.engine)
        self._by_name[PRIMARY] = main
        for entry in config.backends:
            self._by_name[entry.name] = self._build(entry.name, entry, entry.engine or config.engine)
        self.primary = self._by_name[primary_entry.name] if primary_entry else main

    def _build(self, name: str, backend: BackendConfig, engine: str) -> Backend:
        resolved = resolve_engine(engine, backend.type)
        cls = engine_class(resolved, backend.type)
        return Backend(name, backend, resolved, cls(self.config, backend))

    def __iter__(self) -> Iterator[Backend]:
        return iter(self._by_name.values())

    def get(self, name: str) -> Backend | None:
        """The backend named ``name`` (``"default"`` is the ``tasks.backend`` one)."""
        return self._by_name.get(name)

    def named(self) -> dict[str, Backend]:
        """The ``tasks.backends`` entries by name."""
        return {k: v for k, v in self._by_name.items() if k != PRIMARY}

    def route(self, queue: str | None, origin: Backend) -> tuple[Backend, str]:
        """The backend and physical queue for a queue name (see module docstring)."""
        if queue is None:
            return origin, origin.queue_name
        named = self._by_name.get(queue)
        if named is not None and queue != PRIMARY:
            return named, named.queue_name
        return origin, queue

    def bind_task_queues(self, registry: TaskRegistry) -> None:
        """Record the task-declared queues each backend serves (for workers)."""
        for task in registry:
            if task.queue is None:
                continue
            backend, physical = self.route(task.queue, self.primary)
            backend.extra_queues.add(physical)
        for schedule in registry.schedules():
            if schedule.queue is not None:
                backend, physical = self.route(schedule.queue, self.primary)
                backend.extra_queues.add(physical)

    def select(self, names: list[str] | None) -> dict[Backend, list[str]]:
        """Physical queues per backend for a worker's ``--queues`` (None: all)."""
        out: dict[Backend, list[str]] = {}
        if names is None:
            for backend in self:
                out[backend] = backend.queues()
            return out
        for name in names:
            backend, physical = self.route(name, self.primary)
            out.setdefault(backend, [])
            if physical not in out[backend]:
                out[backend].append(physical)
        return out
