"""``dlq list|show|replay|purge``: the dead-letter runbook end to end on the memory engine."""

from __future__ import annotations

from typing import Any

import pytest

from tests.cli import sample_app
from tests.cli.conftest import APP, Cli


def fail_one(run: Cli, reason: str = "disk full") -> str:
    """Enqueue ``sample.flaky`` while it is broken and let it die; return its job id."""
    job_id: str = run.json("enqueue", APP, "sample.flaky", "--kwargs", f'{{"reason": "{reason}"}}')["job_id"]
    assert run.json("worker", APP, "--until-idle") == {"processed": 2}  # max_attempts=2
    return job_id


def dead(run: Cli, *extra: str) -> list[dict[str, Any]]:
    letters: list[dict[str, Any]] = run.json("dlq", "list", APP, *extra)["dead_letters"]
    return letters


def test_enqueue_work_dead_letter_replay_and_succeed(run: Cli) -> None:
    job_id = fail_one(run)
    [letter] = dead(run)
    assert letter["job_id"] == job_id
    assert (letter["task_name"], letter["attempts"]) == ("sample.flaky", 2)
    assert (letter["error_type"], letter["error_message"]) == ("RuntimeError", "flaky failed: disk full")
    assert letter["kwargs"] == {"reason": "disk full"}
    assert run.json("queues", APP)["backends"][0]["dead"] == 1

    sample_app.switch.broken = False
    replayed = run.json("dlq", "replay", APP, job_id)
    [entry] = replayed["replayed"]
    assert entry["job_id"] == job_id
    assert entry["new_job_id"] != job_id
    assert dead(run) == []
    assert run.json("worker", APP, "--until-idle") == {"processed": 1}
    stats = run.json("queues", APP)["backends"][0]
    assert stats["dead"] == 0
    assert stats["queues"][0]["waiting"] == 0


def test_list_table_shows_the_dead_letters(run: Cli) -> None:
    job_id = fail_one(run)
    text = run("dlq", "list", APP).stdout
    assert "dead letters on default (memory): 1 shown of 1" in text
    assert job_id in text
    assert "RuntimeError: flaky failed: disk full" in text


def test_list_paginates_and_filters(run: Cli) -> None:
    first, second = fail_one(run, "one"), fail_one(run, "two")
    assert [d["job_id"] for d in dead(run)] == [second, first]  # newest first
    assert [d["job_id"] for d in dead(run, "--limit", "1", "--offset", "1")] == [first]
    assert dead(run, "--task", "sample.other") == []
    assert run.json("dlq", "list", APP, "--limit", "1")["total"] == 2


def test_show_prints_the_traceback(run: Cli) -> None:
    job_id = fail_one(run)
    text = run("dlq", "show", APP, job_id).stdout
    assert f"dead letter {job_id}" in text
    assert "traceback:" in text
    assert 'raise RuntimeError(f"flaky failed: {reason}")' in text
    data = run.json("dlq", "show", APP, job_id)
    assert data["backend"] == "default"
    assert data["traceback"].rstrip().endswith("RuntimeError: flaky failed: disk full")
    assert data["raw"] is None


def test_replay_all_by_task_and_purge(run: Cli) -> None:
    fail_one(run, "a")
    fail_one(run, "b")
    assert run.json("dlq", "replay", APP, "--all", "--task", "sample.nothing")["replayed"] == []
    result = run("dlq", "replay", APP, "--all", "--task", "sample.flaky")
    assert result.stdout.strip() == "replayed 2 dead letter(s) on default"
    assert "warning: 2 jobs are on the memory engine" in result.stderr
    run.json("worker", APP, "--until-idle")  # still broken: both die again
    assert len(dead(run)) == 2
    assert run.json("dlq", "purge", APP, "--all", "--older-than", "3600") == {
        "backend": "default",
        "purged": 0,
    }
    assert run.json("dlq", "purge", APP, "--all") == {"backend": "default", "purged": 2}
    assert dead(run) == []


def test_purge_one(run: Cli) -> None:
    job_id = fail_one(run)
    assert run("dlq", "purge", APP, job_id).stdout.strip() == "purged 1 dead letter(s) on default"
    assert dead(run) == []


@pytest.mark.parametrize("command", ["show", "replay", "purge"])
def test_an_unknown_job_id_exits_1(run: Cli, command: str) -> None:
    result = run("dlq", command, APP, "no-such-job", code=1)
    assert result.stderr.startswith("error: no dead letter with job id 'no-such-job'")


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["replay", APP], "got neither a JOB_ID nor --all"),
        (["replay", APP, "job", "--all"], "got both a JOB_ID and --all"),
        (["replay", APP, "job", "--task", "t"], "--task filters --all"),
        (["purge", APP], "got neither a JOB_ID nor --all"),
        (["purge", APP, "job", "--older-than", "5"], "--older-than applies to --all"),
        (["list", APP, "--backend", "nope"], "--backend 'nope': this app has no such backend"),
    ],
)
def test_bad_combinations_are_usage_errors(run: Cli, args: list[str], expected: str) -> None:
    assert expected in run("dlq", *args, code=2).stderr


def test_dead_letters_of_a_named_backend(run: Cli) -> None:
    job_id = run.json("enqueue", APP, "sample.nope", "--queue", "emails", "--by-name")["job_id"]
    run("worker", APP, "--until-idle")
    assert dead(run) == []
    [letter] = dead(run, "--backend", "emails")
    assert letter["job_id"] == job_id
    assert run.json("dlq", "show", APP, job_id)["backend"] == "emails"  # found on any backend
