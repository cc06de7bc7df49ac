"""Building the app a conformance test, or a worker subprocess, runs.

A later engine's worker subprocess imports this module and calls
:func:`build_app` with the section and recorder path the harness hands it, so
both sides bind the same tasks to the same container.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

from lexigram_compat import Container, TaskConfig, TaskRegistry, TasksApp
from lexigram_compat.adapters import engine_class
from lexigram_compat.adapters.base import Capabilities

from .jobs import Greeting, registry
from .recorder import Recorder

__all__ = ["build_app", "engine_capabilities", "make_container", "registry_for"]


def engine_capabilities(config: TaskConfig) -> Capabilities:
    """The declared capabilities of the primary engine of ``config``."""
    return engine_class(config.resolved_engine, config.backend.type).capabilities


def registry_for(capabilities: Capabilities) -> TaskRegistry:
    """The suite's tasks an engine can bind: a declared option the engine cannot
    honour fails the app's start, so those tasks are left out for it."""
    chosen = TaskRegistry()
    for declared in registry:
        if declared.priority is not None and not capabilities.priority:
            continue
        if declared.idempotency_key is not None and not capabilities.idempotency_keys:
            continue
        chosen.add(declared)
    for schedule in registry.schedules():
        chosen.add_schedule(schedule)
    return chosen


def make_container(recorder: Recorder) -> Container:
    container = Container()
    container.register(Recorder, recorder)
    container.register(Greeting, Greeting("hello"))
    container.register(Greeting, Greeting("good evening"), name="formal")
    return container


def build_app(
    section: Mapping[str, Any], recorder_path: str | os.PathLike[str], *, tasks: TaskRegistry | None = None
) -> TasksApp:
    """An app (not started) over ``section`` (the ``tasks:`` mapping); the
    environment is ignored so a developer's ``LEX_TASKS__*`` cannot leak in."""
    config = TaskConfig.from_dict({"tasks": dict(section)}, environ={})
    chosen = tasks if tasks is not None else registry_for(engine_capabilities(config))
    return TasksApp(config, container=make_container(Recorder(recorder_path)), registry=chosen)
