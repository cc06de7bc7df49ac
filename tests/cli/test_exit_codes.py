"""The documented exit codes, the help text, and log formatting."""

from __future__ import annotations

import logging

import pytest

import lexigram_compat.cli as cli_module
import lexigram_compat.cli.exits as exits_module
from lexigram_compat.cli.exits import exit_code_for, one_line
from lexigram_compat.cli.logs import JobFieldsFormatter
from lexigram_compat.errors import (
    BrokerUnavailableError,
    ConfigurationError,
    EngineNotFoundError,
    JobNotFoundError,
    TaskValidationError,
)
from tests.cli.conftest import APP, Cli

EXIT_CODE_LINES = (
    "0    success",
    "1    the operation failed",
    "2    usage or configuration error",
    "3    the broker or database is unreachable",
    "130  interrupted",
)


def test_help_documents_the_exit_codes(run: Cli) -> None:
    text = run("--help").stdout
    for line in EXIT_CODE_LINES:
        assert line in text
    for command in ("worker", "scheduler", "enqueue", "dlq", "queues"):
        assert f"  {command} " in text


def test_the_exits_module_documents_the_exit_codes() -> None:
    doc = exits_module.__doc__ or ""
    for code in ("0 ", "1 ", "2 ", "3 ", "130 "):
        assert f"\n{code}" in doc
    assert "lexigram_compat.cli.exits" in (cli_module.__doc__ or "")


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (BrokerUnavailableError("down"), 3),
        (ConfigurationError("bad"), 2),
        (EngineNotFoundError("missing"), 2),
        (JobNotFoundError("gone"), 1),
        (TaskValidationError("wrong"), 1),
        (RuntimeError("bug"), 1),
        (KeyboardInterrupt(), 130),
    ],
)
def test_exit_code_for(error: BaseException, code: int) -> None:
    assert exit_code_for(error) == code


def test_an_interrupt_exits_130(run: Cli) -> None:
    assert run("queues", "tests.cli.sample_app:interrupted", code=130).stderr.strip() == "error: interrupted"


def test_one_line_joins_lines_and_redacts() -> None:
    assert (
        one_line("bad config:\n  - a\n  - b at amqp://u:pw@h//\n")
        == "bad config: - a - b at amqp://u:***@h//"
    )


def test_click_usage_errors_exit_2(run: Cli) -> None:
    assert "Missing argument 'APP'" in run("worker", code=2).stderr
    assert "'loud' is not one of" in run("--log-level", "loud", "queues", APP, code=2).stderr


def test_log_level_debug_shows_enqueue_events(run: Cli) -> None:
    quiet = run("enqueue", APP, "sample.add", "--args", "[1, 2]")
    assert "enqueued sample.add" not in quiet.stderr
    loud = run("--log-level", "debug", "enqueue", APP, "sample.add", "--args", "[1, 2]")
    job_id = loud.stdout.strip()
    assert "DEBUG   [" in loud.stderr
    assert f"lexigram_compat.jobs: enqueued sample.add job={job_id} queue=tasks attempt=0" in loud.stderr


def test_global_json_flag_works_before_the_command(run: Cli) -> None:
    assert run("--json", "queues", APP).stdout.lstrip().startswith("{")


def _record(message: str, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("lexigram_compat.test", logging.INFO, __file__, 1, message, None, None)
    for key, value in extra.items():
        setattr(record, key, value)
    return record


def test_formatter_appends_job_fields_and_redacts() -> None:
    formatter = JobFieldsFormatter("%(message)s")
    job = {"job_id": "j1", "task": "t", "queue": "q", "attempt": 2}
    assert formatter.format(_record("slow call", job=job)) == "slow call [job=j1 task=t queue=q attempt=2]"
    assert formatter.format(_record("done job=j1", job=job)) == "done job=j1"
    assert formatter.format(_record("to redis://:pw@h:1/0")) == "to redis://:***@h:1/0"
