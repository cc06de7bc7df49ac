"""The real ``lexigram-compat`` executable in subprocesses: signals, exit codes, JSON."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.cli.sample_app import HOLD_DIR_ENV, MARK_DIR_ENV, SLOW_DIR_ENV

REPO = Path(__file__).resolve().parents[2]
EXECUTABLE = Path(sys.executable).parent / "lexigram-compat"
DEADLINE = 60.0


class Running:
    """A started command: its process and the file its stderr goes to."""

    def __init__(self, process: subprocess.Popen[bytes], stdout: Path, stderr: Path) -> None:
        self.process = process
        self.stdout_path = stdout
        self.stderr_path = stderr

    @property
    def stdout(self) -> str:
        return self.stdout_path.read_text(errors="replace")

    @property
    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def wait_for(self, what: str, condition: Callable[[], bool]) -> None:
        """Poll ``condition`` until true; fail early if the process exits, or at the deadline."""
        deadline = time.monotonic() + DEADLINE
        while not condition():
            if self.process.poll() is not None:
                pytest.fail(f"exited ({self.process.returncode}) before {what}; stderr:\n{self.stderr}")
            if time.monotonic() > deadline:
                pytest.fail(f"no {what} within {DEADLINE}s; stderr:\n{self.stderr}")
            time.sleep(0.02)

    def wait_for_log(self, text: str) -> None:
        self.wait_for(repr(text), lambda: text in self.stderr)

    def finish(self) -> int:
        return self.process.wait(timeout=DEADLINE)


@contextmanager
def started(tmp_path: Path, *args: str, env: dict[str, str] | None = None) -> Iterator[Running]:
    assert EXECUTABLE.exists(), f"{EXECUTABLE} is missing: run .venv/bin/pip install -e ."
    stdout, stderr = tmp_path / "stdout.log", tmp_path / "stderr.log"
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [str(EXECUTABLE), *args], cwd=REPO, env={**os.environ, **(env or {})}, stdout=out, stderr=err
        )
        try:
            yield Running(process, stdout, stderr)
        finally:
            if process.poll() is None:
                process.kill()
            process.wait(timeout=DEADLINE)


def run_command(*args: str, cwd: Path = REPO) -> subprocess.CompletedProcess[str]:
    assert EXECUTABLE.exists(), f"{EXECUTABLE} is missing: run .venv/bin/pip install -e ."
    return subprocess.run(
        [str(EXECUTABLE), *args], cwd=cwd, capture_output=True, text=True, timeout=DEADLINE, check=False
    )


def test_sigterm_lets_the_running_job_finish_then_exits_0(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    args = ("worker", "tests.cli.sample_app:app", "--no-scheduler")
    with started(tmp_path, *args, env={SLOW_DIR_ENV: str(slow)}) as worker:
        worker.wait_for("slow job start", (slow / "started").exists)
        worker.process.send_signal(signal.SIGTERM)
        worker.wait_for_log("received SIGTERM")
        assert worker.process.poll() is None  # still waiting for the job
        assert not (slow / "finished").exists()
        (slow / "release").touch()
        assert worker.finish() == 0
    assert (slow / "finished").read_text() == "done"
    log = worker.stderr
    assert "Traceback" not in log
    assert log.index("received SIGTERM") < log.index("succeeded sample.slow job=")
    assert "worker stopped after 1 job attempt(s)" in log


def test_sigint_lets_the_running_job_finish_then_exits_130(tmp_path: Path) -> None:
    slow = tmp_path / "slow"
    slow.mkdir()
    args = ("worker", "tests.cli.sample_app:app", "--no-scheduler")
    with started(tmp_path, *args, env={SLOW_DIR_ENV: str(slow)}) as worker:
        worker.wait_for("slow job start", (slow / "started").exists)
        worker.process.send_signal(signal.SIGINT)
        worker.wait_for_log("received SIGINT")
        assert worker.process.poll() is None  # a graceful stop: the job may finish
        (slow / "release").touch()
        assert worker.finish() == 130
    assert (slow / "finished").read_text() == "done"
    assert "Traceback" not in worker.stderr
    assert "worker stopped after 1 job attempt(s)" in worker.stderr


def test_sigterm_while_the_worker_starts_is_a_clean_stop_before_any_job(tmp_path: Path) -> None:
    # A process manager may stop a worker it has just started: the signal arrives
    # while the app connects, before the worker loop runs. That is a clean stop
    # (exit 0, nothing run), not death by SIGTERM (-15).
    hold, marks = tmp_path / "hold", tmp_path / "marks"
    hold.mkdir()
    marks.mkdir()
    args = ("worker", "tests.cli.sample_app:app", "--no-scheduler")
    with started(tmp_path, *args, env={HOLD_DIR_ENV: str(hold), MARK_DIR_ENV: str(marks)}) as worker:
        worker.wait_for("start-up hook", (hold / "starting").exists)
        worker.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)  # without a handler yet, SIGTERM would have killed it at once
        assert worker.process.poll() is None  # it finishes starting first
        (hold / "release").touch()
        assert worker.finish() == 0
    log = worker.stderr
    assert "Traceback" not in log
    assert log.index("received SIGTERM while starting") < log.index("worker started")
    assert "worker stopped after 0 job attempt(s)" in log
    assert list(marks.iterdir()) == []  # the job enqueued at start-up was not run


def test_a_second_sigterm_while_the_worker_starts_stops_it_at_once(tmp_path: Path) -> None:
    hold = tmp_path / "hold"
    hold.mkdir()
    with started(tmp_path, "worker", "tests.cli.sample_app:app", env={HOLD_DIR_ENV: str(hold)}) as worker:
        worker.wait_for("start-up hook", (hold / "starting").exists)
        worker.process.send_signal(signal.SIGTERM)
        time.sleep(0.5)
        worker.process.send_signal(signal.SIGTERM)
        assert worker.finish() == 128 + signal.SIGTERM  # without the start-up hook's release
    assert "received SIGTERM again while starting: stopping now" in worker.stderr
    assert not (hold / "release").exists()


def test_a_bad_app_exits_2_with_one_line() -> None:
    result = run_command("worker", "tests.cli.no_such_module:app")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "error: cannot import module 'tests.cli.no_such_module' (from APP 'tests.cli.no_such_module:app'): "
        "no module named 'tests.cli.no_such_module' (hint: run from the project directory, check the "
        "module path, or set PYTHONPATH)"
    ]
    assert result.stdout == ""


def test_json_output_parses(tmp_path: Path) -> None:
    result = run_command("enqueue", "tests.cli.sample_app:app", "sample.add", "--args", "[1, 2]", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["task"] == "sample.add"
    assert "keeps jobs in this process only" in result.stderr
    queues = run_command("--json", "queues", "tests.cli.sample_app:app")
    assert json.loads(queues.stdout)["backends"][0]["backend"] == "default"


def test_the_current_directory_is_on_the_path(tmp_path: Path) -> None:
    (tmp_path / "cwd_jobs.py").write_text(
        "from lexigram_compat import TaskRegistry, TasksApp\n"
        "app = TasksApp.from_dict({'tasks': {'backend': {'type': 'memory'}}}, registry=TaskRegistry())\n"
    )
    result = run_command("queues", "cwd_jobs:app", "--json", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["backends"][0]["queues"] == [
        {"queue": "tasks", "waiting": 0, "running": 0, "scheduled": 0, "retrying": 0}
    ]


def test_scheduler_runs_until_sigterm(tmp_path: Path) -> None:
    with started(tmp_path, "scheduler", "tests.cli.sample_app:app") as scheduler:
        scheduler.wait_for_log("scheduler started with 1 schedule(s)")
        scheduler.process.send_signal(signal.SIGTERM)
        assert scheduler.finish() == 0
    log = scheduler.stderr
    assert "schedule sample.yearly: next fire time " in log
    assert "received SIGTERM: stopping the scheduler" in log
    assert log.rstrip().endswith("scheduler stopped")
    assert log.startswith("warning: the memory engine keeps jobs in this process only")


def test_processes_get_the_forwarded_sigterm(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    args = ("worker", "tests.cli.sample_app:multi_app", "--processes", "2")
    with started(tmp_path, *args, env={MARK_DIR_ENV: str(marks)}) as parent:
        parent.wait_for("two worker processes", lambda: len(list(marks.iterdir())) == 2)
        parent.process.send_signal(signal.SIGTERM)
        assert parent.finish() == 0
    pids = {int(p.name.removeprefix("started-")) for p in marks.iterdir()}
    assert parent.process.pid not in pids
    log = parent.stderr
    assert "received SIGTERM: forwarding it to 2 worker process(es)" in log
    for pid in pids:
        assert f"[{pid}] lexigram_compat.cli: worker stopped after 1 job attempt(s)" in log
        assert f"worker process pid {pid} exited with code 0" in log
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
    assert log.count("lexigram_compat.scheduler: scheduler started") == 1  # only the first child


def test_processes_until_idle_exit_0_when_all_children_do(tmp_path: Path) -> None:
    marks = tmp_path / "marks"
    marks.mkdir()
    args = ("worker", "tests.cli.sample_app:multi_app", "--processes", "3", "--until-idle", "--json")
    with started(tmp_path, *args, env={MARK_DIR_ENV: str(marks)}) as parent:
        assert parent.finish() == 0
    assert len(list(marks.iterdir())) == 3
    assert parent.stderr.count("exited with code 0") == 3
    assert json.loads(parent.stdout) == {"processes": 3, "exit_code": 0}


def test_an_engine_with_its_own_worker_has_it_exec_in_place_with_the_options() -> None:
    args = ("tests.cli.sample_app:native_app", "--concurrency", "3", "--queues", "emails")
    done = run_command("worker", *args)
    assert done.returncode == 0, done.stderr
    app_spec, options, from_environment = json.loads(done.stdout.strip().splitlines()[-1])
    # A factory is not built by importing its module: the program loads native_entry,
    # which builds APP from the environment the command execs it with.
    assert app_spec == "lexigram_compat.native_entry:app"
    assert from_environment == "tests.cli.sample_app:native_app"
    assert json.loads(options) == {"queues": ["emails"], "processes": None, "concurrency": 3}


def test_without_queues_the_native_worker_gets_none_and_the_config_applies() -> None:
    done = run_command("worker", "tests.cli.sample_app:native_app", "--processes", "2")
    assert done.returncode == 0, done.stderr
    _, options, _ = json.loads(done.stdout.strip().splitlines()[-1])
    assert json.loads(options) == {"queues": None, "processes": 2, "concurrency": None}
