"""``lexigram-compat worker APP`` runs ``celery worker`` with the facade's settings mapped."""

from __future__ import annotations

import importlib
import json
import re
import sys

import pytest

from lexigram_compat import ConfigurationError, TasksApp
from lexigram_compat.adapters.celery import CeleryEngine

from . import interop_tasks
from .conftest import Broker


def engine_of(app: TasksApp) -> CeleryEngine:
    engine = app.queue.backend.engine
    assert isinstance(engine, CeleryEngine)
    return engine


def test_the_native_worker_command_maps_queues_and_concurrency(
    broker: Broker, monkeypatch: pytest.MonkeyPatch
) -> None:
    section = broker.section(worker={"max_concurrent_tasks": 6, "worker_count": 3})
    monkeypatch.setenv("FACADE_SECTION", json.dumps(section))
    monkeypatch.setenv("FACADE_RECORD", "/dev/null")
    monkeypatch.delitem(sys.modules, "tests.celery.facade_app", raising=False)
    module = importlib.import_module("tests.celery.facade_app")
    engine = engine_of(module.app)

    argv = engine.native_worker_argv(
        "tests.celery.facade_app:app", queues=None, processes=None, concurrency=None
    )
    chosen = engine.native_worker_argv(
        "tests.celery.facade_app:app", queues=["emails"], processes=None, concurrency=2, log_level="info"
    )

    assert argv is not None
    assert argv[:4] == [sys.executable, "-m", "celery", "-A"]
    assert argv[4:6] == ["tests.celery.facade_app:celery_app", "worker"]
    assert argv[argv.index("-P") + 1] == "threads"
    assert argv[argv.index("-c") + 1] == "6"
    assert argv[argv.index("-Q") + 1] == broker.queue
    assert re.fullmatch(r"lexigram-\d+@%h", argv[argv.index("-n") + 1])  # one name per worker
    assert chosen is not None
    assert (chosen[chosen.index("-c") + 1], chosen[chosen.index("-Q") + 1]) == ("2", "emails")
    # The CLI's --log-level reaches celery worker (it logs WARNING and above unless told).
    assert "--loglevel" not in argv
    assert chosen[chosen.index("--loglevel") + 1] == "INFO"


def test_a_module_without_the_celery_app_is_a_clear_error(broker: Broker) -> None:
    app = TasksApp.from_dict({"tasks": broker.section()}, environ={}, registry=interop_tasks.registry)

    with pytest.raises(ConfigurationError, match=re.escape("celery_app = app.native")):
        engine_of(app).native_worker_argv(
            "tests.celery.interop_tasks:app", queues=None, processes=None, concurrency=None
        )


def test_unknown_engine_settings_are_refused_naming_the_key(broker: Broker) -> None:
    section = broker.section()
    section["extra"]["celery"]["visibilty_timeout"] = 10

    with pytest.raises(ConfigurationError, match="visibilty_timeout") as refused:
        TasksApp.from_dict({"tasks": section}, environ={}, registry=interop_tasks.registry)
    assert refused.value.hint is not None
    assert "visibility_timeout" in refused.value.hint
