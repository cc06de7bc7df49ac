"""On a terminal: ``queues --watch`` redraws in place; ``dlq purge`` asks first."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from tests.operations.conftest import Ops
from tests.operations.ops_app import APP
from tests.operations.terminal import Terminal


@pytest.fixture
def ops(postgres_section: dict[str, Any], ops_factory: Callable[[dict[str, Any]], Ops]) -> Ops:
    return ops_factory(postgres_section)


def waiting_rows(text: str) -> list[int]:
    """The ``waiting`` count of the ``tasks`` queue in every table drawn so far."""
    return [int(m) for m in re.findall(r"default\s+postgres\s+tasks\s+(\d+)", text)]


def test_queues_watch_redraws_in_place_until_ctrl_c(ops: Ops) -> None:
    term = Terminal(["queues", APP, "--watch", "--interval", "0.2"], ops.env)
    term.expect("a first table", lambda text: waiting_rows(text)[:1] == [0])
    ops.cli("enqueue", APP, "ops.add", "--args", "[1, 2]")
    term.expect("a redraw counting the new job", lambda text: 1 in waiting_rows(text))
    # Redrawn in place: the cursor goes back up over the previous table.
    assert re.search(rb"\x1b\[\d*A", term.raw), term.raw[-500:]
    term.interrupt()
    assert term.finish() == 0
    assert "error" not in term.text


def make_dead_letter(ops: Ops) -> str:
    job_id: str = ops.cli_json("enqueue", APP, "ops.fail", "--kwargs", '{"reason": "r"}')["job_id"]
    assert ops.cli_json("worker", APP, "--until-idle") == {"processed": 2}
    return job_id


def test_purge_on_a_terminal_asks_and_no_keeps_the_dead_letters(ops: Ops) -> None:
    job_id = make_dead_letter(ops)
    term = Terminal(["dlq", "purge", APP, "--all"], ops.env)
    term.expect("the question", lambda text: "Delete every dead letter on default for good? [y/N]" in text)
    term.type("n\n")
    assert term.finish() == 1
    assert "Aborted" in term.text
    assert [d["job_id"] for d in ops.cli_json("dlq", "list", APP)["dead_letters"]] == [job_id]

    term = Terminal(["dlq", "purge", APP, job_id], ops.env)
    term.expect("the question", lambda text: f"Delete dead letter {job_id} for good? [y/N]" in text)
    term.type("y\n")
    assert term.finish() == 0
    assert "purged 1 dead letter(s) on default" in term.text
    assert ops.cli_json("dlq", "list", APP)["dead_letters"] == []


def test_purge_with_yes_or_without_a_terminal_does_not_ask(ops: Ops) -> None:
    make_dead_letter(ops)
    term = Terminal(["dlq", "purge", APP, "--all", "--yes"], ops.env)
    assert term.finish() == 0
    assert "[y/N]" not in term.text
    assert "purged 1 dead letter(s) on default" in term.text
    make_dead_letter(ops)
    piped = ops.cli("dlq", "purge", APP, "--all")  # stdin is not a terminal here
    assert "[y/N]" not in piped.stdout + piped.stderr
    assert "purged 1 dead letter(s)" in piped.stdout
