"""The recorder conformance tasks report through, readable from any process.

Events are appended as JSON lines to one file under an exclusive ``flock``,
each with one ``write`` on an ``O_APPEND`` descriptor, so writers in several
threads and processes (a worker subprocess and the test) never interleave, and
the file's order is the order of the timestamps.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import os
import time
from pathlib import Path
from typing import Any

__all__ = ["Entry", "Recorder"]


@dataclasses.dataclass(frozen=True)
class Entry:
    """One recorded event."""

    event: str
    at: float
    """Wall-clock ``time.time()`` when it was recorded (comparable across processes)."""
    pid: int
    data: dict[str, Any]


class Recorder:
    """Appends events as JSON lines to one file; any process may read them back."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def record(self, event: str, **data: Any) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            # Stamped under the lock, so the file's order is the order of the stamps.
            line = {"event": event, "at": time.time(), "pid": os.getpid(), "data": data}
            os.write(fd, (json.dumps(line, separators=(",", ":")) + "\n").encode())
        finally:
            os.close(fd)  # also releases the lock

    def entries(self, event: str | None = None, **match: Any) -> list[Entry]:
        """Recorded events, oldest first, optionally of one kind and with matching data."""
        try:
            with self.path.open("rb") as file:
                fcntl.flock(file.fileno(), fcntl.LOCK_SH)
                raw = file.read()
        except FileNotFoundError:
            return []
        found = []
        for line in raw.splitlines():
            item = json.loads(line)
            entry = Entry(item["event"], item["at"], item["pid"], item["data"])
            if event is not None and entry.event != event:
                continue
            if all(entry.data.get(k) == v for k, v in match.items()):
                found.append(entry)
        return found

    def runs(self, event: str, key: str) -> int:
        """How many times ``event`` was recorded for ``key``."""
        return len(self.entries(event, key=key))
