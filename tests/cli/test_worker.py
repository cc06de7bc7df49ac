"""``worker`` and ``scheduler`` in this process (signals: see test_processes.py)."""

from __future__ import annotations

import pytest

from lexigram_compat.cli.commands_worker import _child_arguments, parse_queues
from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.state import CliState
from tests.cli.conftest import APP, Cli


def test_worker_until_idle_runs_every_queue_and_logs_each_job(run: Cli) -> None:
    ids = [
        run.json("enqueue", APP, "sample.add", "--args", "[1, 2]")["job_id"],
        run.json("enqueue", APP, "sample.report", "--args", "[5]")["job_id"],
        run.json("enqueue", APP, "sample.email", "--args", '["a@b.c"]')["job_id"],
    ]
    result = run("worker", APP, "--until-idle", "--json")
    assert result.stdout.strip().startswith("{")
    assert '"processed": 3' in result.stdout
    for job_id in ids:
        assert f"job={job_id}" in result.stderr
    assert "worker started (concurrency 10): default (memory): tasks, reports; emails (memory): emails" in (
        result.stderr
    )
    assert "worker stopped after 3 job attempt(s)" in result.stderr


def test_worker_consumes_only_the_chosen_queues(run: Cli) -> None:
    run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    run("enqueue", APP, "sample.email", "--args", '["a@b.c"]')
    assert run.json("worker", APP, "--until-idle", "--queues", "emails", "--concurrency", "2") == {
        "processed": 1
    }
    backends = run.json("queues", APP)["backends"]
    assert backends[0]["queues"][0]["waiting"] == 1
    assert backends[1]["queues"][0]["waiting"] == 0


def test_the_memory_engine_refuses_several_processes(run: Cli) -> None:
    result = run("worker", APP, "--processes", "2", code=2)
    assert result.stderr.startswith("error: --processes 2: the memory engine (default backend) runs in one")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_engine_whose_worker_cannot_be_started_names_its_command(run: Cli) -> None:
    result = run("worker", "tests.cli.sample_app:commandless_app", code=2)
    assert "has no worker this command can start" in result.stderr
    assert "fake-native-worker -A <module> run" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [(None, None), ("emails", ["emails"]), (" emails , reports,", ["emails", "reports"])],
)
def test_parse_queues(text: str | None, expected: list[str] | None) -> None:
    assert parse_queues(text) == expected


@pytest.mark.parametrize(
    ("text", "message"), [(",", "names no queue"), ("bad name", "not a valid queue name")]
)
def test_bad_queue_names_are_usage_errors(text: str, message: str) -> None:
    with pytest.raises(CliError, match=message) as caught:
        parse_queues(text)
    assert caught.value.code == 2


def test_children_get_the_options_and_only_the_first_runs_the_scheduler() -> None:
    state = CliState(debug=True, log_level="debug")
    options: dict[str, object] = {
        "queues": "a,b",
        "concurrency": 4,
        "until_idle": True,
        "no_scheduler": False,
    }
    first = _child_arguments(state, APP, options, 0)
    assert first == [
        "--log-level", "debug", "--debug", "worker", APP, "--processes", "1",
        "--queues", "a,b", "--concurrency", "4", "--until-idle",
    ]  # fmt: skip
    assert _child_arguments(state, APP, options, 1) == [*first, "--no-scheduler"]


def test_scheduler_refuses_when_schedules_are_disabled(run: Cli) -> None:
    result = run("scheduler", "tests.cli.sample_app:no_schedules_app", code=2)
    assert "tasks.scheduler.enabled is false" in result.stderr
