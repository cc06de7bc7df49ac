"""A throwaway PostgreSQL cluster of this test process (``initdb`` + ``pg_ctl``
from the server's own binaries) on a free port in a temporary directory, for
tests that stop or restart the server: the shared server other suites use is
never touched. Always stopped and removed at the end."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lexigram_compat.adapters.postgres import apply_migrations
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA
from tests.conformance.harness import SUITE_SECTION, deep_merge
from tests.ports import free_port

__all__ = ["PrivateCluster", "cluster_section", "private_cluster", "required_cluster"]


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(p.split("/")[4]))
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("pg_ctl")
    return Path(on_path).parent if on_path else None


class PrivateCluster:
    """One cluster: ``dsn`` (trust auth, user ``postgres``), ``restart()``, ``stop()``."""

    def __init__(self, bin_dir: Path, root: Path, settings: dict[str, str] | None = None) -> None:
        self.bin_dir = bin_dir
        self.settings = settings or {}
        self.root = root
        self.data = root / "data"
        self.log = str(root / "server.log")
        self.port = free_port()
        self.dsn = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        # initdb refuses to run as root: run the server as the postgres OS user then.
        self._as = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []

    def _run(self, *argv: str) -> None:
        # Output to a file, not a pipe: a server pg_ctl starts would hold a pipe open.
        with (self.root / "ctl.log").open("wb") as out:
            done = subprocess.run(
                [*self._as, str(self.bin_dir / argv[0]), *argv[1:]],
                check=False,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                timeout=120,
            )
        if done.returncode != 0:
            log = (
                (self.root / "server.log").read_text(errors="replace")
                if (self.root / "server.log").exists()
                else ""
            )
            raise RuntimeError(
                f"{argv[0]} failed ({done.returncode}): "
                f"{(self.root / 'ctl.log').read_text(errors='replace')}\n{log[-2000:]}"
            )

    def init(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")

    def start(self) -> None:
        options = f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off"
        options += "".join(f" -c {name}={value}" for name, value in self.settings.items())
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-o", options, "-w", "start"
        )

    def restart(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.root / "server.log"), "-m", "fast", "-w", "restart"
        )

    def stop(self) -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")

    def crash(self) -> None:
        """Stop as a crash does (``-m immediate``: no shutdown checkpoint, WAL not
        written yet is lost), then start again (crash recovery replays the WAL)."""
        self.stop()
        self.start()


@contextlib.contextmanager
def private_cluster(settings: dict[str, str] | None = None) -> Iterator[PrivateCluster | None]:
    """A started private cluster (server ``settings`` added to its command line),
    or None when the server binaries are not installed."""
    bin_dir = _bin_dir()
    if bin_dir is None:
        yield None
        return
    root = Path(tempfile.mkdtemp(prefix="lexigram-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = PrivateCluster(bin_dir, root, settings)
        cluster.init()
        cluster.start()
        try:
            yield cluster
        finally:
            with contextlib.suppress(Exception):
                cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def required_cluster(settings: dict[str, str] | None = None) -> Iterator[PrivateCluster]:
    """For a fixture: :func:`private_cluster`, failing with one line when the server
    binaries are missing (a test that needs a server never skips)."""
    with private_cluster(settings) as started:
        if started is None:
            pytest.fail(
                "the PostgreSQL server binaries (initdb, pg_ctl) are missing (apt-get install postgresql)"
            )
        yield started


async def cluster_section(cluster: PrivateCluster, **more: Any) -> dict[str, Any]:
    """The ``tasks:`` section of an app (and worker) on ``cluster``, migrated: the
    conformance suite's, with ``more`` keys merged in."""
    await apply_migrations(cluster.dsn, DEFAULT_SCHEMA)
    own = {"engine": "native", "backend": {"type": "postgres", "postgres_dsn": cluster.dsn}, **more}
    return deep_merge(SUITE_SECTION, own)
