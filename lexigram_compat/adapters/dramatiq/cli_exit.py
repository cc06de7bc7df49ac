"""A ``--fork-function`` that lets the ``dramatiq`` CLI exit as soon as its workers have.

Once its worker processes exit, the CLI's main process joins its log thread,
which looks at its stop flag only when a log line arrives or once a second,
so every stop of the CLI takes up to a second longer than its workers.
Started with ``dramatiq ... --fork-function
lexigram_compat.adapters.dramatiq.cli_exit:nudge``, this process sends an empty
log record every 20 ms from the first SIGTERM on (nothing is printed), which
wakes that thread at once; it exits at the second signal (the main process
terminating its forks) or when the main process is gone. Useful wherever
workers restart often (test suites, autoscaling); not needed otherwise.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import time
from types import FrameType
from typing import Any

__all__ = ["nudge"]

INTERVAL = 0.02


def _stream() -> Any:
    for handler in logging.getLogger().handlers:
        stream = getattr(handler, "stream", None)
        if stream is not None:
            return stream
    return None


def nudge() -> int:
    """Run in a fork process of the CLI (see the module docstring); returns its exit code."""
    parent = os.getppid()
    signals = 0

    def on_term(signum: int, frame: FrameType | None) -> None:
        nonlocal signals
        signals += 1
        if signals > 1:
            sys.exit(0)

    signal.signal(signal.SIGTERM, on_term)
    stream = _stream()
    while os.getppid() == parent:
        time.sleep(INTERVAL)
        if signals and stream is not None:
            try:
                stream.write("")
            except (OSError, ValueError):
                return 0
    return 0
