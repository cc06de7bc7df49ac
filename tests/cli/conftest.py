"""Fixtures for the command-line tests: a fresh sample app per test, and a runner."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from typing import Any

import pytest
from click.testing import CliRunner, Result

from lexigram_compat import TasksApp
from lexigram_compat.cli import cli
from tests.cli import sample_app

APP = "tests.cli.sample_app:app"


class Cli:
    """Invokes ``lexigram-compat`` in this process and checks the exit code."""

    def __init__(self) -> None:
        self.runner = CliRunner()

    def __call__(self, *args: str, code: int = 0) -> Result:
        result = self.runner.invoke(cli, list(args), catch_exceptions=False)
        assert result.exit_code == code, (
            f"exit code {result.exit_code}, expected {code}\nstdout: {result.stdout}\nstderr: {result.stderr}"
        )
        return result

    def json(self, *args: str, code: int = 0) -> Any:
        """Run with ``--json`` and parse stdout."""
        return json.loads(self(*args, "--json", code=code).stdout)


@pytest.fixture(autouse=True)
def sample(monkeypatch: pytest.MonkeyPatch) -> Iterator[TasksApp]:
    """A fresh ``tests.cli.sample_app:app`` (empty queues), restored logging and sys.path."""
    app = sample_app.build_app()
    monkeypatch.setattr(sample_app, "app", app)
    monkeypatch.setattr(sample_app.switch, "broken", True)
    monkeypatch.setattr(sys, "path", list(sys.path))
    root = logging.getLogger()
    level, handlers = root.level, list(root.handlers)
    yield app
    for handler in [h for h in root.handlers if h not in handlers]:
        root.removeHandler(handler)
    root.setLevel(level)


@pytest.fixture
def run() -> Cli:
    return Cli()
