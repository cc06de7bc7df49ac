"""``job show|cancel|retry`` and ``workers`` on the memory engine, in this process."""

from __future__ import annotations

from tests.cli import sample_app
from tests.cli.conftest import APP, Cli
from tests.cli.test_dlq import fail_one


def test_show_a_waiting_job_without_its_arguments(run: Cli) -> None:
    job_id = run.json("enqueue", APP, "sample.add", "--args", "[1, 2]")["job_id"]
    data = run.json("job", "show", APP, job_id)
    assert (data["job_id"], data["status"], data["task_name"], data["queue"]) == (
        job_id,
        "pending",
        "sample.add",
        "tasks",
    )
    assert (data["backend"], data["engine"], data["attempts"]) == ("default", "memory", 0)
    assert [h["event"] for h in data["history"]] == ["enqueued"]
    assert data["dead_letter"] is None
    assert "args" not in data


def test_show_a_dead_job_has_its_history_and_last_error(run: Cli) -> None:
    job_id = fail_one(run, "disk full")
    data = run.json("job", "show", APP, job_id)
    assert data["status"] == "failed"
    assert data["last_error"] == "RuntimeError: flaky failed: disk full"
    assert data["history"][0]["event"] == "enqueued"
    assert data["history"][-1]["event"] == "dead-lettered"
    assert "args" not in data["dead_letter"]
    assert "kwargs" not in data["dead_letter"]
    assert "RuntimeError" in data["dead_letter"]["traceback"]
    with_args = run.json("job", "show", APP, job_id, "--args")
    assert with_args["dead_letter"]["kwargs"] == {"reason": "disk full"}
    text = run("job", "show", APP, job_id).stdout
    assert f"job {job_id}" in text
    assert "dead-lettered" in text
    assert "disk full" in text


def test_show_unknown_job_exits_1_with_one_line(run: Cli) -> None:
    result = run("job", "show", APP, "no-such-job", code=1)
    assert result.stderr.strip().splitlines() == [
        "error: no job with id 'no-such-job' on any backend (hint: completed jobs expire after "
        "tasks.retention.completed_seconds; check the id)"
    ]


def test_cancel_a_waiting_job_then_it_never_runs(run: Cli) -> None:
    job_id = run.json("enqueue", APP, "sample.add", "--args", "[1, 2]", "--delay", "600")["job_id"]
    cancelled = run.json("job", "cancel", APP, job_id)
    assert cancelled == {"job_id": job_id, "cancelled": True, "status": "cancelled"}
    assert run.json("job", "show", APP, job_id)["status"] == "cancelled"
    again = run("job", "cancel", APP, job_id, code=1)
    assert "is cancelled: only a job that has not started can be cancelled" in again.stderr


def test_cancel_finds_the_job_on_a_named_backend(run: Cli) -> None:
    job_id = run.json("enqueue", APP, "sample.email", "--args", '["a@example.com"]')["job_id"]
    assert run.json("job", "show", APP, job_id)["backend"] == "emails"
    assert run.json("job", "cancel", APP, job_id)["cancelled"] is True


def test_retry_a_dead_job_runs_it_again(run: Cli) -> None:
    job_id = fail_one(run)
    sample_app.switch.broken = False
    retried = run.json("job", "retry", APP, job_id)
    new_id = retried["new_job_id"]
    assert new_id != job_id
    assert run.json("dlq", "list", APP)["dead_letters"] == []
    assert run.json("worker", APP, "--until-idle") == {"processed": 1}
    assert run.json("job", "show", APP, new_id)["status"] == "completed"


def test_retry_a_job_that_is_not_dead_exits_1(run: Cli) -> None:
    job_id = run.json("enqueue", APP, "sample.add", "--args", "[1, 2]")["job_id"]
    result = run("job", "retry", APP, job_id, code=1)
    assert f"job {job_id!r} is pending, not dead-lettered" in result.stderr


def test_job_commands_on_an_unreachable_broker_exit_3(run: Cli) -> None:
    result = run("job", "show", "tests.cli.sample_app:down_app", "some-id", code=3)
    assert "the broker is unreachable" in result.stderr


def test_workers_of_a_memory_app_seen_from_another_process_is_a_note(run: Cli) -> None:
    result = run("workers", APP)
    assert "memory-engine workers run inside the app's process" in result.stderr
    assert run.json("workers", APP) == {"workers": []}


def test_queues_watch_refuses_json_and_count_needs_watch(run: Cli) -> None:
    assert "--watch draws a live table" in run("queues", APP, "--watch", "--json", code=2).stderr
    assert "--count applies to --watch" in run("queues", APP, "--count", "2", code=2).stderr


def test_queues_watch_with_count_draws_that_many_times(run: Cli) -> None:
    run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    out = run("queues", APP, "--watch", "--interval", "0.1", "--count", "2").stdout
    assert out.count("queues at ") >= 1
    assert "tasks" in out
