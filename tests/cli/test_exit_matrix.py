"""The exit-code matrix: every command on every engine, in every situation, one documented code (issue 13).

Rows are command, engine and situation (ok, broker down, bad config, unknown
task, not found); each cell runs the real entry point (``secret_driver``, one
process per engine, each command's output captured on its own) and checks the
exit code of :mod:`lexigram_compat.cli.exits`. An error is exactly one
``error:`` line on stderr and nothing on stdout without ``--debug``; with
``--debug`` the same line follows a traceback.

Cells that cannot exist are not generated: the memory engine has no broker to
be down; ``dlq show``/``replay`` of an existing letter needs a worker run (the
CLI tests of ``dlq`` cover it); ``db migrate`` belongs to PostgreSQL. A
Dramatiq or Celery ``worker`` that passes its start-up checks execs the
engine's own program: its "ok" is reaching that exec (the driver's code 99).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
import pytest
import redis
from psycopg import sql

from tests.cli.secret_app import SECTION_ENV
from tests.services import Service

REPO = Path(__file__).resolve().parents[2]
APP = "tests.cli.secret_app:app"
EXEC_REFUSED = 99
RUN = uuid.uuid4().hex[:10]
PREFIX = f"lexmatrix-{RUN}"
MISSING_JOB = "no-such-job-0000"
ENGINES = ("memory", "postgres", "dramatiq-redis", "dramatiq-rabbitmq", "celery-redis", "celery-rabbitmq")
REDIS_DB = {"dramatiq": 1, "celery": 8}
REFUSED_PASSWORD = f"not-the-password-{RUN}"


@dataclass(frozen=True)
class Cell:
    """One command in one situation, and the exit code it must end with."""

    situation: str
    argv: tuple[str, ...]
    section: dict[str, Any]
    code: int

    @property
    def name(self) -> str:
        return f"{self.situation}: {' '.join(self.argv)}"


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def engine_extra(engine: str) -> dict[str, Any]:
    if engine == "dramatiq":
        return {"dramatiq": {"namespace": PREFIX}}
    return {"celery": {"key_prefix": PREFIX, "transport_options": {"global_keyprefix": PREFIX}}}


class Sections:
    """The ``tasks:`` sections of one engine: working, broker down, malformed."""

    def __init__(self, key: str, servers: dict[str, str]) -> None:
        self.key = key
        self.servers = servers

    def _section(self, url: str | None) -> dict[str, Any]:
        if self.key == "memory":
            return {"backend": {"type": "memory"}}
        if self.key == "postgres":
            return {"backend": {"type": "postgres", "postgres_dsn": url}}
        engine, broker = self.key.split("-")
        backend: dict[str, Any] = {"queue_name": f"{PREFIX}-{self.key}"}  # one vhost, two engines
        state = f"{self.servers['redis']}/{REDIS_DB[engine]}"
        if broker == "redis":
            backend.update(type="redis", redis_url=url)
        else:
            backend.update(type="amqp", amqp_url=url, state_url=state, redis_url=state)
        return {"engine": engine, "backend": backend, "extra": engine_extra(engine)}

    def ok(self) -> dict[str, Any]:
        return self._section(self._url(up=True))

    def down(self) -> dict[str, Any]:
        return self._section(self._url(up=False))

    def refused(self) -> dict[str, Any]:
        """The broker answers and refuses the login (RabbitMQ: a wrong password)."""
        parts = urlsplit(self.servers["rabbitmq"])
        netloc = f"{parts.username or 'guest'}:{REFUSED_PASSWORD}@{parts.hostname}:{parts.port or 5672}"
        return self._section(parts._replace(netloc=netloc).geturl())

    def bad(self) -> dict[str, Any]:
        if self.key == "memory":
            return {**self.ok(), "worker": {"worker_count": 0}}
        malformed = {
            "postgres": "mysql://127.0.0.1/app",
            "redis": "127.0.0.1:6379",
            "rabbitmq": "guest@127.0.0.1//",
        }
        return self._section(malformed[self.key.split("-")[-1]])

    def _url(self, *, up: bool) -> str | None:
        if self.key == "memory":
            return None
        broker = self.key.split("-")[-1]
        url = self.servers[broker]
        if broker == "redis":
            url = f"{url}/{REDIS_DB[self.key.split('-')[0]]}"
        if up:
            return url
        parts = urlsplit(url)
        return parts._replace(netloc=parts.netloc.replace(f":{parts.port}", f":{closed_port()}")).geturl()


def cells(sections: Sections) -> list[Cell]:
    key = sections.key
    native = key not in ("memory", "postgres")
    worker = ("worker", APP) if native else ("worker", APP, "--until-idle")
    commands: list[tuple[str, ...]] = [
        ("queues", APP),
        ("enqueue", APP, "secret.add", "--args", "[1, 2]"),
        ("dlq", "list", APP),
        ("dlq", "show", APP, MISSING_JOB),
        ("dlq", "replay", APP, MISSING_JOB),
        worker,
    ]
    if key == "postgres":
        commands.insert(0, ("db", "migrate", APP))
    found: list[Cell] = []
    for command in commands:
        if command[:2] not in (("dlq", "show"), ("dlq", "replay")):
            ok_code = EXEC_REFUSED if command[0] == "worker" and native else 0
            found.append(Cell("ok", command, sections.ok(), ok_code))
        if key != "memory":
            found.append(Cell("broker down", command, sections.down(), 3))
        found.append(Cell("bad config", command, sections.bad(), 2))
    if key.endswith("rabbitmq"):
        # Celery on RabbitMQ answers `queues` and `dlq list` from Redis: it must
        # still log in to RabbitMQ, as Dramatiq (whose dead letters are there) does.
        for command in commands:
            if command[0] in ("queues", "enqueue") or command[:2] == ("dlq", "list"):
                found.append(Cell("login refused", command, sections.refused(), 3))
    found.append(Cell("unknown task", ("enqueue", APP, "secret.ad", "--args", "[1, 2]"), sections.ok(), 1))
    for command in (("dlq", "show", APP, MISSING_JOB), ("dlq", "replay", APP, MISSING_JOB)):
        found.append(Cell("not found", command, sections.ok(), 1))
    return found


def run_cells(plan: list[tuple[Cell, bool]], where: Path) -> list[tuple[int, bytes, bytes]]:
    entries = [
        {
            "env": {SECTION_ENV: json.dumps(cell.section)},
            "argv": [*(["--debug"] if debug else []), *cell.argv],
        }
        for cell, debug in plan
    ]
    split = where / "outputs"
    split.mkdir()
    (where / "plan.json").write_text(json.dumps(entries))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "tests.cli.secret_driver",
            str(where / "plan.json"),
            str(where / "codes.json"),
            str(split),
        ],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    codes = json.loads((where / "codes.json").read_text())
    return [
        (codes[i]["code"], (split / f"{i}.out").read_bytes(), (split / f"{i}.err").read_bytes())
        for i in range(len(entries))
    ]


@pytest.fixture(scope="module")
def scratch_database(postgres_service: Service) -> Iterator[str]:
    name = f"lexigram_matrix_{RUN}"
    with psycopg.connect(postgres_service.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield urlsplit(postgres_service.url)._replace(path=f"/{name}").geturl()
    finally:
        with psycopg.connect(postgres_service.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def vhost(rabbitmq_service: Service) -> Iterator[str]:
    """A RabbitMQ vhost of this module's own, deleted afterwards."""
    parts = urlsplit(rabbitmq_service.url)
    name = PREFIX
    for argv in (
        ["rabbitmqctl", "-q", "add_vhost", name],
        ["rabbitmqctl", "-q", "set_permissions", "-p", name, parts.username or "guest", ".*", ".*", ".*"],
    ):
        subprocess.run(argv, check=True, capture_output=True, timeout=60)
    try:
        yield f"{parts.scheme}://{parts.netloc}/{name}"
    finally:
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_vhost", name], check=False, capture_output=True, timeout=60
        )


@pytest.fixture
def sections(request: pytest.FixtureRequest) -> Iterator[Sections]:
    key: str = request.param
    servers: dict[str, str] = {}
    if key == "postgres":
        servers["postgres"] = request.getfixturevalue("scratch_database")
    if key not in ("memory", "postgres"):
        base = urlsplit(request.getfixturevalue("redis_service").url)
        servers["redis"] = f"{base.scheme}://{base.netloc}"
    if key.endswith("rabbitmq"):
        servers["rabbitmq"] = request.getfixturevalue("vhost")
    yield Sections(key, servers)
    if "redis" in servers:
        base = urlsplit(servers["redis"])
        for db in REDIS_DB.values():
            with redis.Redis(host=base.hostname or "127.0.0.1", port=base.port or 6379, db=db) as client:
                keys = list(client.scan_iter(match=f"*{PREFIX}*"))
                if keys:
                    client.delete(*keys)


@pytest.mark.parametrize("sections", ENGINES, indirect=True)
def test_every_command_exits_with_its_documented_code_and_one_line(
    sections: Sections, tmp_path: Path
) -> None:
    matrix = cells(sections)
    plan = [(cell, False) for cell in matrix] + [(cell, True) for cell in matrix if cell.code in (1, 2, 3)]
    results = run_cells(plan, tmp_path)

    problems: list[str] = []
    for (cell, debug), (code, stdout, stderr) in zip(plan, results, strict=True):
        text = stderr.decode(errors="replace")
        lines = text.splitlines()
        label = f"{sections.key} {cell.name}{' --debug' if debug else ''}"
        if REFUSED_PASSWORD in text or REFUSED_PASSWORD.encode() in stdout:
            problems.append(f"{label}: the password is in the output: {text[-400:]!r}")
        if code != cell.code:
            problems.append(f"{label}: exit {code}, expected {cell.code}; stderr: {text[-400:]!r}")
            continue
        if cell.code in (0, EXEC_REFUSED):
            if "error:" in text or "Traceback" in text:
                problems.append(f"{label}: an error or traceback on success: {text[-400:]!r}")
        elif not debug:
            if len(lines) != 1 or not lines[0].startswith("error: ") or stdout:
                problems.append(
                    f"{label}: expected one 'error:' line and no stdout, got {text!r} / {stdout!r}"
                )
        elif "Traceback (most recent call last)" not in text or not lines[-1].startswith("error: "):
            problems.append(
                f"{label}: --debug should show the traceback, then the error line: {text[-400:]!r}"
            )
    assert not problems, "\n".join(problems)
