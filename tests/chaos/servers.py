"""Private broker instances for the fault-injection suite, never the shared servers.

Each server runs from a temporary directory on free ports, is started and
crashed by this process by PID, and comes back on the same port and data
directory, as after a real crash:

- :class:`PrivateRedis`: ``redis-server --appendonly yes --appendfsync always``;
  crash = SIGKILL.
- :class:`PrivateRabbit`: a node of its own (``lexchaos-<n>@localhost``, its own
  ports, mnesia, logs, cookie and an empty plugins file); crash = SIGKILL of the
  node's ``beam`` process; ``rabbitmqctl -n <node>`` only ever talks to it.
- :class:`PrivatePostgres`: ``tests/postgres/private_cluster.py``'s cluster, with
  the library's schema; crash = ``pg_ctl -m immediate stop``.

:func:`stop_all` (registered with ``atexit``) stops whatever is still running.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import Self

from tests.ports import free_port
from tests.postgres.private_cluster import PrivateCluster, _bin_dir

__all__ = ["PrivatePostgres", "PrivateRabbit", "PrivateRedis", "Server", "free_port", "stop_all"]

RABBIT_BIN = Path("/usr/lib/rabbitmq/bin")
"""The node scripts themselves: ``/usr/sbin/rabbitmq-server`` would switch to the
``rabbitmq`` user and that user's HOME (and so the shared node's cookie)."""
START_TIMEOUT = 90.0

_running: list[Server] = []


def _wait_port(port: int, timeout: float, what: str, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else "(no log)"
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {timeout}s; its log:\n{tail}")


def _kill_pid(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        with contextlib.suppress(ChildProcessError):
            if os.waitpid(pid, os.WNOHANG)[0] == pid:
                return
        time.sleep(0.05)


class Server:
    """A private server: ``start()``, ``crash()``, ``restart()`` (same port and data), ``stop()``."""

    name = "server"

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix=f"lexchaos-{self.name}-"))
        self.crashes = 0

    def start(self) -> None:
        raise NotImplementedError

    def crash(self) -> None:
        raise NotImplementedError

    def stop(self) -> None:
        """Stop (as a crash) and forget the server's directory."""
        with contextlib.suppress(Exception):
            self.crash()
        with contextlib.suppress(ValueError):
            _running.remove(self)
        shutil.rmtree(self.root, ignore_errors=True)

    def restart(self) -> None:
        self.start()

    def __enter__(self) -> Self:
        _running.append(self)
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class PrivateRedis(Server):
    """``redis-server`` with every write fsynced to its append-only file."""

    name = "redis"

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}"
        self.log = self.root / "redis.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        argv = [
            "redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.root),
            "--appendonly", "yes", "--appendfsync", "always", "--save", "",
            "--maxmemory-policy", "noeviction", "--logfile", str(self.log), "--daemonize", "no",
        ]  # fmt: skip
        self.process = subprocess.Popen(argv, stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_port(self.port, START_TIMEOUT, "the private redis-server", self.log)

    def crash(self) -> None:
        process, self.process = self.process, None
        if process is not None:
            _kill_pid(process.pid)
            process.wait()
            self.crashes += 1


class PrivateRabbit(Server):
    """A RabbitMQ node of its own; every ``rabbitmqctl`` call names it (``-n``)."""

    name = "rabbitmq"

    def __init__(self) -> None:
        super().__init__()
        self.port = free_port()
        self.dist_port = free_port()
        self.node = f"lexchaos-{uuid.uuid4().hex[:8]}@localhost"
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/%2F"
        self.pid_file = self.root / "node.pid"
        self.log = self.root / "log" / "console.log"
        (self.root / "log").mkdir()
        (self.root / "enabled_plugins").write_text("[].\n")
        (self.root / "rabbitmq.conf").write_text(
            f"listeners.tcp.1 = 127.0.0.1:{self.port}\nloopback_users = none\n"
        )
        (self.root / "rabbitmq-env.conf").write_text("ERL_EPMD_ADDRESS=127.0.0.1\n")
        self.process: subprocess.Popen[bytes] | None = None

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "HOME": str(self.root),  # its own .erlang.cookie
            "RABBITMQ_NODENAME": self.node,
            "RABBITMQ_NODE_IP_ADDRESS": "127.0.0.1",
            "RABBITMQ_NODE_PORT": str(self.port),
            "RABBITMQ_DIST_PORT": str(self.dist_port),
            "RABBITMQ_MNESIA_BASE": str(self.root / "mnesia"),
            "RABBITMQ_LOG_BASE": str(self.root / "log"),
            "RABBITMQ_PID_FILE": str(self.pid_file),
            "RABBITMQ_ENABLED_PLUGINS_FILE": str(self.root / "enabled_plugins"),
            "RABBITMQ_CONFIG_FILE": str(self.root / "rabbitmq.conf"),
            "RABBITMQ_CONF_ENV_FILE": str(self.root / "rabbitmq-env.conf"),
            "RABBITMQ_ADVANCED_CONFIG_FILE": str(self.root / "advanced.config"),
            "RABBITMQ_LOGS": str(self.log),
        }

    def ctl(self, *args: str, timeout: float = 60.0) -> str:
        """``rabbitmqctl -n <this node> args...`` (never the default node)."""
        done = subprocess.run(
            [str(RABBIT_BIN / "rabbitmqctl"), "-n", self.node, *args],
            env=self.env(),
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        if done.returncode != 0:
            raise RuntimeError(f"rabbitmqctl -n {self.node} {' '.join(args)} failed: {done.stderr.decode()}")
        return done.stdout.decode()

    def start(self) -> None:
        with (self.root / "server.out").open("ab") as out:
            self.process = subprocess.Popen(
                [str(RABBIT_BIN / "rabbitmq-server")],
                env=self.env(),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        _wait_port(self.port, START_TIMEOUT, f"the private RabbitMQ node {self.node}", self.log)

    def beam_pid(self) -> int | None:
        try:
            return int(self.pid_file.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None

    def crash(self) -> None:
        process, self.process = self.process, None
        pid = self.beam_pid()
        if pid is not None:
            _kill_pid(pid)
            self.pid_file.unlink(missing_ok=True)
        if process is not None:
            # The start script (and anything left in its session: erl_child_setup).
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
            self.crashes += 1


class PrivatePostgres(Server):
    """A throwaway cluster with the library's schema; crash = ``pg_ctl -m immediate``."""

    name = "postgres"

    def __init__(self) -> None:
        super().__init__()
        bin_dir = _bin_dir()
        if bin_dir is None:
            raise RuntimeError("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self.cluster = PrivateCluster(bin_dir, self.root)
        self.cluster.port = free_port()
        self.cluster.dsn = f"postgresql://postgres@127.0.0.1:{self.cluster.port}/postgres"
        self.url = self.cluster.dsn
        self._initialised = False

    def start(self) -> None:
        if not self._initialised:
            self.cluster.init()
            self._initialised = True
        self.cluster.start()

    def crash(self) -> None:
        self.cluster.stop()  # -m immediate: no checkpoint, as a crash
        self.crashes += 1


def stop_all() -> None:
    """Stop every private server still running (the ``atexit`` safety net)."""
    for server in list(_running):
        server.stop()


atexit.register(stop_all)
