"""``queues``: counts per backend and physical queue."""

from __future__ import annotations

from tests.cli.conftest import APP, Cli


def test_queues_json_lists_every_backend_and_queue(run: Cli) -> None:
    run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    run("enqueue", APP, "sample.report", "--args", "[3]", "--delay", "600")
    data = run.json("queues", APP)
    assert [(b["backend"], b["engine"], b["primary"]) for b in data["backends"]] == [
        ("default", "memory", True),
        ("emails", "memory", False),
    ]
    default = {q["queue"]: q for q in data["backends"][0]["queues"]}
    assert default["tasks"] == {"queue": "tasks", "waiting": 1, "running": 0, "scheduled": 0, "retrying": 0}
    assert default["reports"] == {
        "queue": "reports",
        "waiting": 1,
        "running": 0,
        "scheduled": 1,
        "retrying": 0,
    }
    assert [q["queue"] for q in data["backends"][1]["queues"]] == ["emails"]


def test_queues_table(run: Cli) -> None:
    run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    lines = run("queues", APP).stdout.splitlines()
    header = next(line for line in lines if "waiting" in line)
    assert header.split() == [
        "backend",
        "engine",
        "queue",
        "waiting",
        "running",
        "scheduled",
        "retrying",
        "dead",
    ]
    rows = [line.split() for line in lines if "tasks" in line or "emails" in line]
    assert ["default", "memory", "tasks", "1", "0", "0", "0", "0"] in rows
    assert ["emails", "memory", "emails", "0", "0", "0", "0", "0"] in rows


def test_queues_with_an_unreachable_broker_exits_3(run: Cli) -> None:
    result = run("queues", "tests.cli.sample_app:down_app", code=3)
    assert "the broker is unreachable (ConnectionRefusedError: [Errno 111]" in result.stderr
