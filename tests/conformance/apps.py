"""Building the app a conformance test, or a worker subprocess, runs.

A later engine's worker subprocess builds its app with :func:`build_app` from
the section and recorder path the harness hands it through the environment
(:func:`worker_environ` on the test's side, :func:`app_from_environ` in the
subprocess; ``tests/conformance/worker_app.py`` does it at import, for CLIs
that take a module), so both sides bind the same tasks to the same container.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from lexigram_compat import Container, TaskConfig, TaskRegistry, TasksApp
from lexigram_compat.engine_contract import Capabilities
from lexigram_compat.engine_registry import engine_class

from .hook_probe import install_hook_probe
from .jobs import Greeting, registry
from .recorder import Recorder
from .shim_jobs import shim_registry

__all__ = [
    "RECORDER_ENV",
    "SECTION_ENV",
    "app_from_environ",
    "build_app",
    "engine_capabilities",
    "make_container",
    "registry_for",
    "worker_environ",
]

SECTION_ENV = "LEXIGRAM_CONFORMANCE_SECTION"
"""The test's ``tasks:`` section, as JSON, for a worker subprocess."""
RECORDER_ENV = "LEXIGRAM_CONFORMANCE_RECORDER"
"""The test's recorder file, for a worker subprocess."""


def engine_capabilities(config: TaskConfig) -> Capabilities:
    """The declared capabilities of the primary engine of ``config``."""
    return engine_class(config.resolved_engine, config.backend.type).capabilities


def registry_for(capabilities: Capabilities) -> TaskRegistry:
    """The suite's tasks an engine can bind: a declared option the engine cannot
    honour fails the app's start, so those tasks are left out for it."""
    chosen = TaskRegistry()
    for declared in (*registry, *shim_registry()):
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
    recorder = Recorder(recorder_path)
    app = TasksApp(config, container=make_container(recorder), registry=chosen)
    install_hook_probe(app, recorder)
    return app


def worker_environ(section: Mapping[str, Any], recorder_path: str | os.PathLike[str]) -> dict[str, str]:
    """The variables with which :func:`app_from_environ` builds this test's app in another process."""
    return {SECTION_ENV: json.dumps(section), RECORDER_ENV: os.fspath(recorder_path)}


def app_from_environ(environ: Mapping[str, str] | None = None) -> TasksApp:
    """The app of the test that started this process (see :func:`worker_environ`)."""
    env = os.environ if environ is None else environ
    missing = [name for name in (SECTION_ENV, RECORDER_ENV) if name not in env]
    if missing:
        raise RuntimeError(
            f"{', '.join(missing)} not set: start this process with EngineHarness.worker_environ()"
        )
    return build_app(json.loads(env[SECTION_ENV]), env[RECORDER_ENV])
