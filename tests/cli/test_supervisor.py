"""The process supervisor behind ``worker --processes N``, with plain Python children."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

from lexigram_compat.cli.supervisor import child_command, supervise

# Says it is ready, then exits 0 on SIGTERM after noting it.
PATIENT = """
import pathlib, signal, sys, time
folder = pathlib.Path(sys.argv[1])
def stop(signum, frame):
    (folder / "terminated").write_text(signal.Signals(signum).name)
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
(folder / "ready").touch()
deadline = time.monotonic() + 60
while time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(9)
"""

# Waits until the patient child is ready, then fails with exit code 3.
FAILING = """
import pathlib, sys, time
ready = pathlib.Path(sys.argv[1]) / "ready"
deadline = time.monotonic() + 60
while not ready.exists() and time.monotonic() < deadline:
    time.sleep(0.02)
sys.exit(3)
"""


def test_a_failing_child_stops_the_others_and_sets_the_exit_code(tmp_path: Path) -> None:
    commands = [
        [sys.executable, "-c", PATIENT, str(tmp_path)],
        [sys.executable, "-c", FAILING, str(tmp_path)],
    ]
    assert asyncio.run(supervise(commands)) == 3
    assert (tmp_path / "terminated").read_text() == "SIGTERM"


def test_all_children_succeeding_exit_0(tmp_path: Path) -> None:
    commands = [[sys.executable, "-c", f"open({str(tmp_path / str(i))!r}, 'w').close()"] for i in range(3)]
    assert asyncio.run(supervise(commands)) == 0
    assert sorted(p.name for p in tmp_path.iterdir()) == ["0", "1", "2"]


def test_child_command_reinvokes_this_cli() -> None:
    assert child_command(["worker", "m:app"]) == [
        sys.executable,
        "-m",
        "lexigram_compat.cli",
        "worker",
        "m:app",
    ]
