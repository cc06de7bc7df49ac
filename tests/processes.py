"""Stopping a worker subprocess the way an operator does: SIGTERM, then SIGKILL to its
process group if it does not exit in time (it was started with ``start_new_session=True``)."""

from __future__ import annotations

import os
import signal
import subprocess


def terminate(process: subprocess.Popen[bytes], timeout: float = 30) -> int:
    """SIGTERM ``process`` (if it still runs), wait up to ``timeout`` seconds, then kill
    its process group; its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    return process.returncode
