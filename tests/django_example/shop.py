"""The Django example (``examples/celery_django``) as a running system: its own database,
broker queue and Redis keys per test, worker subprocesses, and the orders read back.

Each test copies the project to a temporary directory (the migration guide's steps edit
it), creates a PostgreSQL database for it on the shared server and drops it afterwards,
and runs workers as the guide does, in the project directory.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

from tests.processes import terminate

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "celery_django"
BIN = Path(sys.executable).parent
READY_TIMEOUT = 60.0


@dataclass
class Order:
    pk: int
    sku: str
    status: str
    charge_attempts: int
    reserve_attempts: int
    flaky_gateway: bool


@dataclass
class Shop:
    """One copy of the example project with its own database, queue and Redis keys."""

    root: Path
    db_name: str
    server_dsn: str
    amqp_url: str
    redis_url: str
    queue: str
    logs: Path
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def db_dsn(self) -> str:
        return urlunsplit(urlsplit(self.server_dsn)._replace(path=f"/{self.db_name}"))

    def env(self, **extra: str) -> dict[str, str]:
        pg = urlsplit(self.server_dsn)
        env = {
            **os.environ,
            "PATH": f"{BIN}:{os.environ.get('PATH', '/usr/bin:/bin')}",
            "PYTHONPATH": str(self.root),
            "PYTHONUNBUFFERED": "1",
            "DJANGO_SETTINGS_MODULE": "shop.settings",
            "SHOP_DB_NAME": self.db_name,
            "SHOP_DB_HOST": pg.hostname or "127.0.0.1",
            "SHOP_DB_PORT": str(pg.port or 5432),
            "SHOP_DB_USER": pg.username or "postgres",
            "SHOP_BROKER_URL": self.amqp_url,
            "SHOP_QUEUE": self.queue,
        }
        env.pop("CI", None)  # nothing in the project may behave differently under CI
        env.update(extra)
        return env

    def run(self, *argv: str, env: dict[str, str] | None = None, timeout: float = 120) -> str:
        """Run a command in the project directory; its stdout, or the failure with its output."""
        environment = self.env(**(env or {}))
        done = subprocess.run(
            list(argv), cwd=self.root, env=environment, capture_output=True, text=True, timeout=timeout,
            check=False,
        )  # fmt: skip
        command = " ".join(argv)
        assert done.returncode == 0, f"{command} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def manage(self, *args: str, env: dict[str, str] | None = None) -> str:
        return self.run(str(BIN / "python"), "manage.py", *args, env=env)

    def place_orders(self, count: int, **options: int | str) -> list[int]:
        flags = [f"--{key.replace('_', '-')}={value}" for key, value in options.items()]
        return [int(line) for line in self.manage("place_orders", f"--count={count}", *flags).split()]

    @contextmanager
    def worker(self, name: str, argv: list[str], ready: str, **env: str) -> Iterator[Path]:
        """A worker subprocess, started in the project directory and stopped with SIGTERM."""
        log = self.logs / f"{name}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                argv, cwd=self.root, env=self.env(**env), stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        try:
            deadline = time.monotonic() + READY_TIMEOUT
            while ready not in log.read_text(errors="replace"):
                assert process.poll() is None, f"{name} exited {process.returncode}:\n{_tail(log)}"
                assert time.monotonic() < deadline, f"{name} never printed {ready!r}:\n{_tail(log)}"
                time.sleep(0.05)
            yield log
            assert process.poll() is None, f"{name} exited on its own ({process.returncode}):\n{_tail(log)}"
        finally:
            terminate(process)

    def orders(self, ids: list[int]) -> dict[int, Order]:
        with psycopg.connect(self.db_dsn, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT id, sku, status, charge_attempts, reserve_attempts, flaky_gateway"
                " FROM orders_order WHERE id = ANY(%s)",
                [ids],
            ).fetchall()
        return {row[0]: Order(*row) for row in rows}

    def wait_until_confirmed(self, ids: list[int], logs: list[Path], timeout: float = 60) -> dict[int, Order]:
        deadline = time.monotonic() + timeout
        while True:
            orders = self.orders(ids)
            if len(orders) == len(ids) and all(o.status == "confirmed" for o in orders.values()):
                return orders
            if time.monotonic() > deadline:
                tails = "\n".join(f"--- {log.name}\n{_tail(log)}" for log in logs)
                raise AssertionError(f"orders not all confirmed: {orders}\n{tails}")
            time.sleep(0.1)


def _tail(log: Path, size: int = 4000) -> str:
    return log.read_text(errors="replace")[-size:]


def copy_project(destination: Path) -> Path:
    """A copy of the example project (without caches) to run and edit."""
    target = destination / "celery_django"
    shutil.copytree(EXAMPLE, target, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    return target


def new_shop(tmp_path: Path, server_dsn: str, amqp_url: str, redis_url: str) -> Shop:
    tag = uuid.uuid4().hex[:10]
    logs = tmp_path / "logs"
    logs.mkdir()
    return Shop(
        root=copy_project(tmp_path), db_name=f"shop_{tag}", server_dsn=server_dsn, amqp_url=amqp_url,
        redis_url=redis_url, queue=f"shop-{tag}", logs=logs,
    )  # fmt: skip


def create_database(shop: Shop) -> None:
    with psycopg.connect(shop.server_dsn, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{shop.db_name}"')


def drop_database(shop: Shop) -> None:
    with psycopg.connect(shop.server_dsn, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{shop.db_name}" WITH (FORCE)')
