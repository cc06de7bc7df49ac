"""Where declared tasks and schedules live until an app binds them.

Declaring binds no engine (procrastinate's Blueprint): ``@task`` records the
function here and ``TasksApp`` reads the registry when it starts, so the order
in which modules are imported never matters.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from lexigram_compat.errors import DuplicateTaskError

if TYPE_CHECKING:
    from lexigram_compat.scheduling import Schedule
    from lexigram_compat.tasks import Task

__all__ = ["TaskRegistry", "default_registry"]


def _origin(task: Task[Any, Any]) -> tuple[str, str]:
    fn = task.fn
    return (getattr(fn, "__module__", "?"), getattr(fn, "__qualname__", "?"))


class TaskRegistry:
    """Tasks by name, and the schedules that fire them."""

    def __init__(self) -> None:
        self._tasks: dict[str, Task[Any, Any]] = {}
        self._schedules: dict[str, Schedule] = {}
        self._lock = threading.Lock()

    def add(self, task: Task[Any, Any]) -> None:
        """Register ``task``; a second, different function under its name is an error.

        Re-declaring the same function (same module and qualname, e.g. a module
        reloaded or a test defining it again) replaces the earlier one.
        """
        with self._lock:
            existing = self._tasks.get(task.name)
            if existing is not None and existing is not task and _origin(existing) != _origin(task):
                module, qualname = _origin(existing)
                raise DuplicateTaskError(
                    f"task name {task.name!r} is already used by {module}.{qualname}; "
                    f"cannot also register {'.'.join(_origin(task))}",
                )
            self._tasks[task.name] = task

    def add_schedule(self, schedule: Schedule) -> None:
        """Register a schedule (its task is registered by ``@scheduled`` too)."""
        with self._lock:
            existing = self._schedules.get(schedule.name)
            if existing is not None and existing.task_name != schedule.task_name:
                raise DuplicateTaskError(
                    f"schedule name {schedule.name!r} is already used by task {existing.task_name!r}",
                    hint="give one of them an explicit @scheduled(name=...)",
                )
            self._schedules[schedule.name] = schedule

    def get(self, name: str) -> Task[Any, Any] | None:
        """The task registered as ``name``, if any."""
        return self._tasks.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tasks

    def __iter__(self) -> Iterator[Task[Any, Any]]:
        return iter(list(self._tasks.values()))

    def __len__(self) -> int:
        return len(self._tasks)

    def names(self) -> list[str]:
        """Registered task names, sorted."""
        return sorted(self._tasks)

    def schedules(self) -> list[Schedule]:
        """Registered schedules, by name."""
        return [self._schedules[k] for k in sorted(self._schedules)]

    def remove_schedule(self, name: str) -> None:
        """Forget the schedule ``name`` (its task stays registered)."""
        with self._lock:
            self._schedules.pop(name, None)

    def remove(self, name: str) -> None:
        """Forget a task and its schedules (tests use this to tidy up)."""
        with self._lock:
            self._tasks.pop(name, None)
            for key in [k for k, s in self._schedules.items() if s.task_name == name]:
                del self._schedules[key]


default_registry = TaskRegistry()
"""The registry ``@task`` and ``@scheduled`` use unless given another."""
