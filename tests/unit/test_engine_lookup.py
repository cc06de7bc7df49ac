"""Engines are found by name, lazily, with errors that say what to do."""

from __future__ import annotations

from pathlib import Path

import pytest

from lexigram_compat import TaskConfig, TasksApp
from lexigram_compat.adapters.memory import MemoryEngine
from lexigram_compat.engine_registry import ENGINES, engine_class, engine_key
from lexigram_compat.errors import EngineNotFoundError


def test_memory_engine_is_found_by_pair() -> None:
    assert engine_class("native", "memory") is MemoryEngine
    assert engine_key("native", "memory") == "memory"
    assert engine_key("celery", "amqp") == "celery-rabbitmq"
    assert engine_key("dramatiq", "redis") == "dramatiq-redis"


def test_unknown_pair_suggests_the_closest_and_lists_all() -> None:
    with pytest.raises(EngineNotFoundError) as caught:
        engine_class("celery", "postgress")
    assert "did you mean 'celery+" in str(caught.value.hint)
    assert "native+postgres" in str(caught.value.hint)


def test_a_missing_driver_names_the_pip_extra(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    (tmp_path / "engine_needing_driver.py").write_text(
        "import lexigram_compat_test_absent_driver\n\nclass Engine: ...\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setitem(ENGINES, ("celery", "redis"), ("engine_needing_driver:Engine", "celery"))
    with pytest.raises(EngineNotFoundError) as caught:
        engine_class("celery", "redis")
    assert "lexigram_compat_test_absent_driver" in caught.value.message
    assert caught.value.hint == "pip install 'lexigram-compat[celery]'"


def test_an_engine_not_built_yet_is_named_when_the_app_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(ENGINES, ("celery", "redis"), ("lexigram_compat.adapters.not_built:Engine", "celery"))
    config = TaskConfig.from_dict({"tasks": {"engine": "celery", "backend": {"type": "redis"}}}, environ={})
    with pytest.raises(EngineNotFoundError, match="celery-redis engine is not available"):
        TasksApp(config)
