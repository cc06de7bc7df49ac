"""Running N worker processes: ``lexigram-compat worker APP --processes N``.

The parent re-invokes the command line once per process (with ``--processes
1``), forwards SIGTERM and SIGINT to every child so each shuts down
gracefully, and exits when all children have exited. If a child fails while
no shutdown was asked for, the others are stopped too and the parent exits
with the child's code (1 when it died from a signal): a supervisor such as
systemd or Kubernetes then restarts the whole group.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from collections.abc import Sequence

from lexigram_compat.cli.exits import EXIT_FAILED, EXIT_OK

__all__ = ["child_command", "supervise"]

log = logging.getLogger("lexigram_compat.cli.supervisor")

_FORWARDED = (signal.SIGTERM, signal.SIGINT)


def child_command(arguments: Sequence[str]) -> list[str]:
    """The command line that runs ``lexigram-compat <arguments>`` in a new process."""
    return [sys.executable, "-m", "lexigram_compat.cli", *arguments]


class _Group:
    """The child processes and whether a shutdown was asked for."""

    def __init__(self) -> None:
        self.children: list[asyncio.subprocess.Process] = []
        self.stopping = False

    def alive(self) -> list[asyncio.subprocess.Process]:
        return [c for c in self.children if c.returncode is None]

    def signal_all(self, sig: signal.Signals) -> None:
        for child in self.alive():
            with contextlib.suppress(ProcessLookupError):
                child.send_signal(sig)

    def forward(self, sig: signal.Signals) -> None:
        self.stopping = True
        log.info("received %s: forwarding it to %d worker process(es)", sig.name, len(self.alive()))
        self.signal_all(sig)

    async def wait_all(self) -> int:
        waits = {asyncio.create_task(child.wait()): child for child in self.children}
        pending = set(waits)
        code = EXIT_OK
        while pending:
            done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
            for finished in done:
                child = waits[finished]
                returncode = child.returncode
                log.info("worker process pid %d exited with code %s", child.pid, returncode)
                if returncode == 0:
                    continue
                if code == EXIT_OK:
                    code = returncode if returncode is not None and returncode > 0 else EXIT_FAILED
                if not self.stopping:
                    self.stopping = True
                    log.error(
                        "worker process pid %d failed (exit code %s): stopping the other %d",
                        child.pid,
                        returncode,
                        len(self.alive()),
                    )
                    self.signal_all(signal.SIGTERM)
        return code


async def supervise(commands: Sequence[Sequence[str]]) -> int:
    """Start one process per command, forward SIGTERM/SIGINT, wait for all.

    Returns:
        0 when every child exited with 0, else the first failing child's code
        (1 for a child killed by a signal).
    """
    loop = asyncio.get_running_loop()
    group = _Group()
    installed: list[signal.Signals] = []
    for sig in _FORWARDED:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, group.forward, sig)
            installed.append(sig)
    try:
        for index, command in enumerate(commands, start=1):
            if group.stopping:
                break
            child = await asyncio.create_subprocess_exec(*command)
            group.children.append(child)
            log.info("started worker process %d/%d (pid %d)", index, len(commands), child.pid)
        return await group.wait_all()
    finally:
        for sig in installed:
            loop.remove_signal_handler(sig)
        if group.alive():  # only when this coroutine itself was cancelled or failed
            group.signal_all(signal.SIGTERM)
            await asyncio.gather(*(c.wait() for c in group.children), return_exceptions=True)
