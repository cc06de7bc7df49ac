"""``enqueue``: registered tasks are validated, others are sent by name."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from lexigram_compat import JobInfo, JobStatus, TasksApp
from lexigram_compat.cli.commands_enqueue import parse_json
from lexigram_compat.cli.exits import CliError
from tests.cli.conftest import APP, Cli

MEMORY_WARNING = "keeps jobs in this process only"


def job_info(app: TasksApp, job_id: str) -> JobInfo | None:
    async def get() -> JobInfo | None:
        async with app:
            return await app.queue.get_job(job_id)

    return asyncio.run(get())


def test_enqueue_prints_the_job_id_and_the_job_waits(run: Cli, sample: TasksApp) -> None:
    result = run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    job_id = result.stdout.strip()
    assert str(uuid.UUID(job_id)) == job_id
    info = job_info(sample, job_id)
    assert info is not None
    assert (info.task_name, info.status, info.queue) == ("sample.add", JobStatus.PENDING, "tasks")
    warning = result.stderr.strip().splitlines()
    assert len(warning) == 1
    assert warning[0].startswith(f"warning: job {job_id} is on the memory engine")
    assert MEMORY_WARNING in warning[0]


def test_enqueue_json_describes_the_job(run: Cli) -> None:
    data = run.json("enqueue", APP, "sample.report", "--kwargs", '{"report_id": 7}')
    assert data["task"] == "sample.report"
    assert data["registered"] is True
    assert data["queue"] == "reports"
    assert data["backend"] == "default"
    assert data["status"] == JobStatus.PENDING.value
    uuid.UUID(data["job_id"])


def test_enqueue_options_reach_the_job(run: Cli, sample: TasksApp) -> None:
    data = run.json(
        "enqueue",
        APP,
        "sample.email",
        "--args",
        '["a@b.c"]',
        "--delay",
        "300",
        "--priority",
        "9",
        "--job-id",
        "email-1",
    )
    assert data["job_id"] == "email-1"
    assert data["backend"] == "emails"
    assert data["status"] == JobStatus.SCHEDULED.value
    assert data["run_at"] is not None
    again = run.json("enqueue", APP, "sample.email", "--args", '["a@b.c"]', "--job-id", "email-1")
    assert again["job_id"] == "email-1"
    emails = run.json("queues", APP)["backends"][1]
    assert emails["queues"][0] == {
        "queue": "emails",
        "waiting": 1,
        "running": 0,
        "scheduled": 1,
        "retrying": 0,
    }


def test_enqueue_to_a_named_queue(run: Cli) -> None:
    data = run.json("enqueue", APP, "sample.add", "--args", "[1, 2]", "--queue", "adhoc")
    assert data["queue"] == "adhoc"


def test_a_typod_task_name_fails_with_exit_1_and_enqueues_nothing(run: Cli) -> None:
    result = run("enqueue", APP, "sample.ad", "--args", "[1, 2]", code=1)
    assert result.stderr.splitlines() == [
        "error: task 'sample.ad' is not registered in APP 'tests.cli.sample_app:app' (did you mean "
        "'sample.add'?) (hint: fix the name, or pass --by-name to send it to a worker that knows it)"
    ]
    assert result.stdout == ""
    assert run.json("queues", APP)["backends"][0]["queues"][0]["waiting"] == 0


def test_by_name_sends_an_unregistered_task_with_a_note(run: Cli) -> None:
    result = run("enqueue", APP, "sample.ad", "--args", "[1, 2]", "--by-name")
    note = "note: task 'sample.ad' is not registered in this app (did you mean 'sample.add'?)"
    assert note in result.stderr
    assert MEMORY_WARNING in result.stderr
    job_id = result.stdout.strip()
    run("worker", APP, "--until-idle")
    letters = run.json("dlq", "list", APP)["dead_letters"]
    assert [(d["job_id"], d["error_type"]) for d in letters] == [
        (job_id, "lexigram_compat.errors.TaskNotFoundError")
    ]


def test_arguments_are_validated_against_the_task_signature(run: Cli) -> None:
    result = run("enqueue", APP, "sample.add", "--args", '[1, "x"]', code=1)
    assert "argument 'y'" in result.stderr
    assert result.stdout == ""
    assert run.json("queues", APP)["backends"][0]["queues"][0]["waiting"] == 0


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["--args", "[1,"], "--args '[1,' is not valid JSON"),
        (["--args", '{"x": 1}'], "--args must be a JSON array, got dict"),
        (["--kwargs", "[1]"], "--kwargs must be a JSON object, got list"),
        (["--priority", "999"], "999"),
    ],
)
def test_bad_input_is_a_usage_error(run: Cli, args: list[str], expected: str) -> None:
    result = run("enqueue", APP, "sample.add", *args, code=2)
    assert expected in result.stderr
    assert "Traceback" not in result.output


def test_parse_json_defaults_to_empty() -> None:
    assert parse_json("--args", None, list) == []
    assert parse_json("--kwargs", None, dict) == {}
    with pytest.raises(CliError, match="not valid JSON"):
        parse_json("--kwargs", "{nope", dict)


def test_an_unreachable_broker_exits_3(run: Cli) -> None:
    result = run("enqueue", "tests.cli.sample_app:down_app", "sample.add", "--args", "[1, 2]", code=3)
    assert result.stderr.startswith("error: enqueue failed: the broker is unreachable")
    assert result.stdout == ""
