"""``APP`` resolution: module:attribute, factories, and one-line errors."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lexigram_compat import TasksApp
from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.loading import load_app, parse_app_spec
from tests.cli.conftest import APP, Cli


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    assert lines[0].startswith("error: ")
    assert "Traceback" not in stderr
    return lines[0]


def test_load_app_returns_the_module_attribute(sample: TasksApp) -> None:
    assert load_app(APP) is sample


def test_a_zero_argument_factory_is_called() -> None:
    app = load_app("tests.cli.sample_app:make_app")
    assert isinstance(app, TasksApp)
    assert "sample.add" in app.registry


@pytest.mark.parametrize("text", ["myproj", "myproj:", ":app", "my-proj:app", "a:b:c"])
def test_a_malformed_app_string_names_the_value(text: str) -> None:
    with pytest.raises(CliError) as caught:
        parse_app_spec(text)
    assert repr(text) in str(caught.value)
    assert "module:attribute" in str(caught.value)
    assert caught.value.code == 2


@pytest.mark.parametrize(
    ("app", "expected"),
    [
        ("nope", "APP 'nope' is not of the form module:attribute"),
        ("no_such_module_xyz:app", "cannot import module 'no_such_module_xyz'"),
        ("tests.cli.sample_app:missing", "has no attribute 'missing'"),
        ("tests.cli.sample_app:not_an_app", "tests.cli.sample_app:not_an_app is int 42, not a TasksApp"),
        ("tests.cli.sample_app:returns_wrong_type", "returns_wrong_type() returned dict, not a TasksApp"),
        ("tests.cli.sample_app:TasksApp", "is type"),
        ("tests.cli.broken_module:app", "RuntimeError: broken_module fails on import on purpose"),
        ("tests.cli.needs_missing_dependency:app", "needs 'lexigram_no_such_dependency'"),
    ],
)
def test_app_errors_are_one_line_with_exit_code_2(run: Cli, app: str, expected: str) -> None:
    result = run("queues", app, code=2)
    line = one_error_line(result.stderr)
    assert expected in line
    assert "hint:" in line
    assert result.stdout == ""


def test_a_missing_attribute_lists_the_apps_the_module_has(run: Cli) -> None:
    line = one_error_line(run("queues", "tests.cli.sample_app:ap", code=2).stderr)
    assert "TasksApp objects in tests.cli.sample_app: app" in line


def test_debug_adds_the_traceback(run: Cli) -> None:
    result = run("--debug", "queues", "tests.cli.broken_module:app", code=2)
    assert "Traceback (most recent call last)" in result.stderr
    assert result.stderr.strip().splitlines()[-1].startswith("error: importing module")


def test_secrets_in_error_messages_are_redacted(run: Cli) -> None:
    for debug in ([], ["--debug"]):
        result = run(*debug, "queues", "tests.cli.sample_app:secret_failure", code=2)
        assert "hunter2" not in result.output
        assert "redis://admin:***@db.internal:6379/0" in result.stderr


def test_a_configuration_error_exits_2_without_the_password(run: Cli) -> None:
    line = one_error_line(run("queues", "tests.cli.sample_app:bad_config_app", code=2).stderr)
    assert "tasks.worker.worker_count" in line
    assert "s3cret-pw" not in line


def test_the_current_directory_is_searched_for_the_module(
    run: Cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "cwd_jobs_for_cli_test.py").write_text(
        "from lexigram_compat import TaskRegistry, TasksApp\n"
        "section = {'backend': {'type': 'memory', 'queue_name': 'from_cwd'}}\n"
        "app = TasksApp.from_dict({'tasks': section}, registry=TaskRegistry())\n"
    )
    monkeypatch.chdir(tmp_path)
    try:
        data = run.json("queues", "cwd_jobs_for_cli_test:app")
    finally:
        sys.modules.pop("cwd_jobs_for_cli_test", None)
    assert data["backends"][0]["queues"][0]["queue"] == "from_cwd"
