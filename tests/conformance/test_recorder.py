"""The recorder the conformance tasks report through works across processes and threads,
as it must once workers run in subprocesses."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from .recorder import Recorder

ROOT = Path(__file__).resolve().parents[2]
PROCESSES, THREADS, RECORDS = 4, 4, 50

WRITER = textwrap.dedent(
    """
    import sys, threading
    from tests.conformance.recorder import Recorder

    recorder = Recorder(sys.argv[1])

    def write(thread: int) -> None:
        for i in range(int(sys.argv[4])):
            recorder.record("line", writer=sys.argv[2], thread=thread, i=i, padding="x" * 2000)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(int(sys.argv[3]))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    """
)


def test_concurrent_writers_in_several_processes_leave_every_line_whole(tmp_path: Path) -> None:
    path = tmp_path / "recorder.jsonl"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, str(path), str(n), str(THREADS), str(RECORDS)], cwd=ROOT
        )
        for n in range(PROCESSES)
    ]
    for writer in writers:
        assert writer.wait(timeout=60) == 0

    entries = Recorder(path).entries("line")

    assert len(entries) == PROCESSES * THREADS * RECORDS
    seen = {(e.data["writer"], e.data["thread"], e.data["i"]) for e in entries}
    assert seen == {(str(p), t, i) for p in range(PROCESSES) for t in range(THREADS) for i in range(RECORDS)}
    assert len({e.pid for e in entries}) == PROCESSES
    stamps = [e.at for e in entries]
    assert stamps == sorted(stamps)


def test_entries_filter_by_event_and_data(tmp_path: Path) -> None:
    recorder = Recorder(tmp_path / "recorder.jsonl")
    assert recorder.entries() == []

    recorder.record("a", key="k", n=1)
    recorder.record("b", key="k", n=2)
    recorder.record("a", key="other", n=3)

    assert [e.data["n"] for e in recorder.entries()] == [1, 2, 3]
    assert [e.data["n"] for e in recorder.entries("a")] == [1, 3]
    assert [e.data["n"] for e in recorder.entries("a", key="k")] == [1]
    assert recorder.runs("a", "other") == 1
    assert recorder.runs("c", "k") == 0
