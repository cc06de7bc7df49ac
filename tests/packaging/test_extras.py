"""The extras in pyproject.toml install what each engine imports, and nothing it does not.

The installs themselves (the wheel with each extra alone, in a fresh venv, against the
real servers) are ``scripts/test-packaging``; these tests pin the metadata and the one
import rule the extras rely on: the Dramatiq engine on Redis never imports pika.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap
import tomllib
from pathlib import Path

import pytest
from packaging.requirements import Requirement

from lexigram_compat.engine_registry import ENGINES
from tests.packaging.floors import floors

ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
EXTRAS: dict[str, list[str]] = PROJECT["optional-dependencies"]


def _names(extra: str) -> set[str]:
    """Distribution names an extra pulls in, following ``lexigram-compat[...]`` references."""
    names: set[str] = set()
    for line in EXTRAS[extra]:
        req = Requirement(line)
        if req.name == "lexigram-compat":
            for inner in req.extras:
                names |= _names(inner)
        else:
            names.add(req.name)
            names |= {f"{req.name}[{e}]" for e in req.extras}
    return names


def test_every_engine_names_an_extra_that_exists() -> None:
    for (engine, backend), (_, extra) in ENGINES.items():
        if extra is not None:
            assert extra in EXTRAS, f"{engine}+{backend} names the missing extra {extra!r}"


def test_psycopg_binary_is_a_choice_not_a_requirement() -> None:
    assert _names("postgres") == {"psycopg"}
    assert "psycopg[binary]" in _names("postgres-binary")


def test_dramatiq_on_redis_brings_no_pika_and_rabbitmq_does() -> None:
    assert "dramatiq[rabbitmq]" not in _names("dramatiq")
    assert "dramatiq[rabbitmq]" in _names("dramatiq-rabbitmq")
    assert "amqp" in _names("dramatiq-rabbitmq")  # py-amqp publishes (pipelined confirms)
    assert "amqp" not in _names("dramatiq")
    assert "redis" in _names("dramatiq")
    assert _names("redis") == _names("dramatiq")


def test_all_covers_every_other_extra() -> None:
    every = set().union(*(_names(name) for name in EXTRAS if name != "all"))
    assert _names("all") >= every - {"psycopg"}
    assert "psycopg" in _names("all")


def test_the_dramatiq_redis_engine_runs_without_pika() -> None:
    # pika blocked (None in sys.modules makes every import of it fail), as in a venv
    # with lexigram-compat[dramatiq] only; the RabbitMQ engine then names its extra.
    script = textwrap.dedent(
        """
        import sys
        sys.modules["pika"] = None
        from lexigram_compat import EngineNotFoundError, TasksApp
        redis_app = TasksApp.from_dict(
            {"tasks": {"engine": "dramatiq", "backend": {"type": "redis",
             "redis_url": "redis://127.0.0.1:1/0"}}}
        )
        print("redis engine:", type(redis_app.native).__name__)
        try:
            TasksApp.from_dict(
                {"tasks": {"engine": "dramatiq", "backend": {"type": "amqp",
                 "amqp_url": "amqp://guest:guest@127.0.0.1:1/%2f"}}}
            )
        except EngineNotFoundError as exc:
            print("amqp:", exc.message, "|", exc.hint)
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert "redis engine: LexigramRedisBroker" in done.stdout
    assert "needs the module 'pika'" in done.stdout
    assert "pip install 'lexigram-compat[dramatiq-rabbitmq]'" in done.stdout


def test_the_floors_cover_the_engine_libraries() -> None:
    found = floors()
    for name in ("dramatiq", "celery", "kombu", "redis", "psycopg", "pydantic"):
        assert name in found, f"{name} has no floor in pyproject.toml"
    assert found["psycopg"] == "3.2.1"


def test_two_floors_for_one_library_are_refused(tmp_path: Path) -> None:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        '[project]\ndependencies = ["redis>=5.0"]\n[project.optional-dependencies]\nx = ["redis>=6.4"]\n'
    )
    with pytest.raises(ValueError, match="redis has two floors"):
        floors(pyproject)
    pyproject.write_text('[project]\ndependencies = ["redis"]\n[project.optional-dependencies]\n')
    with pytest.raises(ValueError, match="no single '>=' floor"):
        floors(pyproject)
