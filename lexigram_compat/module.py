"""``TasksModule``: Lexigram's module-style entry point, building a ``TasksApp``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lexigram_compat.app import TasksApp
from lexigram_compat.config import TaskConfig
from lexigram_compat.di.container import Resolver
from lexigram_compat.registry import TaskRegistry

__all__ = ["TasksModule"]


class TasksModule:
    """``TasksModule.configure(...)`` as in Lexigram, returning a ready-to-start app."""

    @staticmethod
    def configure(
        config: TaskConfig | Mapping[str, Any] | None = None,
        *,
        worker_count: int | None = None,
        enable_scheduler: bool | None = None,
        container: Resolver | None = None,
        registry: TaskRegistry | None = None,
    ) -> TasksApp:
        """Build a :class:`TasksApp`.

        Args:
            config: A ``TaskConfig``, or a dict shaped like the YAML file.
            worker_count: Lexigram's argument; overrides ``worker.worker_count``.
            enable_scheduler: Lexigram's argument; overrides ``scheduler.enabled``.
            container: A resolver for task dependencies.
            registry: Task registry (default: the global one).
        """
        if config is None:
            cfg = TaskConfig()
        elif isinstance(config, TaskConfig):
            cfg = config
        elif isinstance(config, Mapping):
            cfg = TaskConfig.from_dict(config)
        else:
            raise TypeError(f"TasksModule.configure(config={config!r}): pass a TaskConfig or a dict")
        updates: dict[str, Any] = {}
        if worker_count is not None:
            updates["worker"] = {**cfg.worker.model_dump(), "worker_count": worker_count}
        if enable_scheduler is not None:
            updates["scheduler"] = {**cfg.scheduler.model_dump(), "enabled": enable_scheduler}
        if updates:
            # environ={}: the environment was applied when cfg was loaded; the
            # explicit arguments must win over it, not be overridden again.
            data = {**cfg.model_dump(mode="python"), **updates}
            cfg = TaskConfig.from_dict({"tasks": data}, environ={})
        return TasksApp(cfg, container=container, registry=registry)

    @staticmethod
    def stub(*, container: Resolver | None = None, registry: TaskRegistry | None = None) -> TasksApp:
        """Memory engine, scheduler off: for tests (Lexigram's ``TasksModule.stub``)."""
        return TasksModule.configure(
            {"tasks": {"backend": {"type": "memory"}, "scheduler": {"enabled": False}}},
            container=container,
            registry=registry,
        )
