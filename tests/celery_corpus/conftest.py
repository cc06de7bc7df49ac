"""The corpus runs' timings in the terminal summary (read from the saved reports)."""

from __future__ import annotations

import json

import pytest

from .targets import TARGETS


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter, config: pytest.Config) -> None:
    """One line per target that ran in this session: how long its whole run took."""
    factory = getattr(config, "_tmp_path_factory", None)
    if factory is None:
        return
    base = factory.getbasetemp()
    found = {key: base / f"celery-corpus-{key}.json" for key in TARGETS}
    seconds = {key: json.loads(path.read_text())["seconds"] for key, path in found.items() if path.exists()}
    timings = [f"{key} {value:.1f}s" for key, value in seconds.items()]
    if timings:
        terminalreporter.section("celery corpus runs (side by side)")
        terminalreporter.write_line(", ".join(timings))
