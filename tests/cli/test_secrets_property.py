"""No password reaches any byte a command prints: a property over generated passwords (issue 13).

For each engine family, Hypothesis generates passwords (with characters that
need URL-escaping and libpq quoting) and puts each into every DSN/URL form the
family's drivers accept. Every command that touches the connection runs
against a reachable server and an unreachable one (a closed port), without
and with ``--debug --json``; the password, raw and in every escaped spelling,
must be absent from all of stdout and stderr (where the logs go too).

The commands run through the real entry point in one subprocess per example
(``tests/cli/secret_driver.py``): a process per command would cost minutes.
Exit codes are checked too, so a command that failed before reaching the
server cannot pass by printing nothing: an unreachable server is exit 3
everywhere; a reachable one is never 1 or 2. Redis and RabbitMQ here have no
password, so a reachable Redis accepts any (redis-py ignores the "no password
configured" reply) while RabbitMQ refuses it (exit 3); PostgreSQL trusts
loopback, so there every command succeeds (and ``worker --until-idle`` runs in
process). A Dramatiq or Celery ``worker`` that passes its start-up check would
exec the engine's own program: the driver stops it there (exit 99).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote, quote_plus, urlsplit

import psycopg
import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from tests.cli.secret_app import SECTION_ENV
from tests.services import Service

REPO = Path(__file__).resolve().parents[2]
APP = "tests.cli.secret_app:app"
EXAMPLES = int(os.environ.get("LEXIGRAM_SECRET_EXAMPLES", "6"))
"""Passwords per engine family; each runs 32-72 commands in about a second."""
EXEC_REFUSED = 99
MODES: tuple[tuple[str, ...], ...] = ((), ("--debug", "--json"))
REDIS_DB = {"dramatiq": 1, "celery": 8}
"""The Redis dbs those engines' tests use; every key here carries this run's prefix."""

# Letters, digits, punctuation, symbols and spaces: everything URL-escaping and
# libpq quoting must handle. The "Pw" prefix keeps a password from being a
# string that ordinary output contains by chance ("000000" is in a timestamp).
PASSWORDS = st.text(
    st.characters(codec="utf-8", categories=("L", "N", "P", "S", "Zs"), exclude_characters="\x00"),
    min_size=6,
    max_size=14,
).map(lambda tail: "Pw" + tail)

FAMILIES = ("postgres", "dramatiq-redis", "celery-redis", "dramatiq-rabbitmq", "celery-rabbitmq")
RUN = uuid.uuid4().hex[:10]


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def spellings(password: str) -> set[str]:
    """Every way a password could be printed."""
    return {
        password,
        quote(password, safe=""),
        quote(password),
        quote_plus(password),
        repr(password)[1:-1],
        json.dumps(password)[1:-1],
        json.dumps(password, ensure_ascii=False)[1:-1],
        password.replace("\\", "\\\\").replace("'", "\\'"),
    }


def libpq_quoted(password: str) -> str:
    return "'" + password.replace("\\", "\\\\").replace("'", "\\'") + "'"


class Family:
    """The forms and commands of one engine family, and the servers they talk to."""

    def __init__(self, name: str, services: dict[str, Service], database: str | None) -> None:
        self.name = name
        self.services = services
        self.database = database
        self.prefix = f"lexsecrets-{RUN}"

    def connections(self, password: str) -> list[tuple[dict[str, Any], bool, list[str] | None]]:
        """``(section, reachable, dsn for db migrate --dsn)`` for every form and server."""
        escaped = quote(password, safe="")
        down = closed_port()
        found: list[tuple[dict[str, Any], bool, list[str] | None]] = []
        if self.name == "postgres":
            for port, reachable in ((5432, True), (down, False)):
                for dsn in (
                    f"postgresql://postgres:{escaped}@127.0.0.1:{port}/{self.database}",
                    f"postgresql://postgres@127.0.0.1:{port}/{self.database}?password={escaped}",
                    f"host=127.0.0.1 port={port} dbname={self.database} user=postgres "
                    f"password={libpq_quoted(password)}",
                ):
                    section = {"backend": {"type": "postgres", "postgres_dsn": dsn}}
                    found.append((section, reachable, ["db", "migrate", "--dsn", dsn]))
            return found
        engine, broker = self.name.split("-")
        for host_port, reachable in (("127.0.0.1:{}", True), ("127.0.0.1:{}", False)):
            if broker == "redis":
                where = host_port.format(6379 if reachable else down)
                db = REDIS_DB[engine]
                urls = [
                    f"redis://:{escaped}@{where}/{db}",
                    f"redis://default:{escaped}@{where}/{db}",
                    f"redis://{where}/{db}?password={escaped}",
                ]
                if not reachable:  # TLS to a plain Redis waits for its socket timeout
                    urls.append(f"rediss://:{escaped}@{where}/{db}")
                backends = [{"type": "redis", "redis_url": url} for url in urls]
            else:
                where = host_port.format(5672 if reachable else down)
                state = f"redis://127.0.0.1:6379/{REDIS_DB[engine]}"
                backends = [
                    {"type": "amqp", "amqp_url": url, "state_url": state}
                    for url in (f"amqp://guest:{escaped}@{where}//", f"amqps://guest:{escaped}@{where}//")
                ]
            for backend in backends:
                found.append((self.section(engine, backend), reachable, None))
        return found

    def section(self, engine: str, backend: dict[str, Any]) -> dict[str, Any]:
        extra: dict[str, Any] = (
            {"dramatiq": {"namespace": self.prefix}}
            if engine == "dramatiq"
            else {
                "celery": {"key_prefix": self.prefix, "transport_options": {"global_keyprefix": self.prefix}}
            }
        )
        return {"engine": engine, "backend": {**backend, "queue_name": self.prefix}, "extra": extra}

    def commands(self) -> list[list[str]]:
        worker = ["worker", APP, "--until-idle"] if self.name == "postgres" else ["worker", APP]
        migrate = [["db", "migrate", APP]] if self.name == "postgres" else []
        return [
            *migrate,
            ["queues", APP],
            ["enqueue", APP, "secret.add", "--args", "[1, 2]"],
            ["dlq", "list", APP],
            worker,
        ]

    def plan(self, password: str) -> list[dict[str, Any]]:
        entries: list[dict[str, Any]] = []
        for section, reachable, dsn_command in self.connections(password):
            commands = ([dsn_command] if dsn_command else []) + self.commands()
            for mode in MODES:
                for command in commands:
                    entries.append(
                        {
                            "env": {SECTION_ENV: json.dumps(section)},
                            "argv": [*mode, *command],
                            "reachable": reachable,
                        }
                    )
        return entries


def run_plan(plan: list[dict[str, Any]], where: Path) -> tuple[bytes, bytes, list[dict[str, Any]]]:
    plan_path, codes_path = where / "plan.json", where / "codes.json"
    plan_path.write_text(json.dumps(plan))
    done = subprocess.run(
        [sys.executable, "-m", "tests.cli.secret_driver", str(plan_path), str(codes_path)],
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        capture_output=True,
        timeout=240,
        check=False,
    )
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-3000:]
    return done.stdout, done.stderr, json.loads(codes_path.read_text())


@pytest.fixture(scope="module")
def scratch_database(postgres_service: Service) -> Iterator[str]:
    """An empty database of this module's own (``db migrate`` fills it)."""
    name = f"lexigram_secrets_{RUN}"
    with psycopg.connect(postgres_service.url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield name
    finally:
        with psycopg.connect(postgres_service.url, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(scope="module")
def redis_keys(redis_service: Service) -> Iterator[None]:
    """Deletes the keys this module's commands wrote (all carry its prefix)."""
    yield
    base = urlsplit(redis_service.url)
    for db in REDIS_DB.values():
        client = redis.Redis(host=base.hostname or "127.0.0.1", port=base.port or 6379, db=db)
        with client:
            keys = list(client.scan_iter(match=f"*lexsecrets-{RUN}*"))
            if keys:
                client.delete(*keys)


@pytest.fixture
def family(request: pytest.FixtureRequest, redis_keys: None) -> Family:
    name: str = request.param
    services = {"redis": request.getfixturevalue("redis_service")}
    database = None
    if name == "postgres":
        services["postgres"] = request.getfixturevalue("postgres_service")
        database = request.getfixturevalue("scratch_database")
    if name.endswith("rabbitmq"):
        services["rabbitmq"] = request.getfixturevalue("rabbitmq_service")
    return Family(name, services, database)


@pytest.mark.parametrize("family", FAMILIES, indirect=True)
@settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(password=PASSWORDS)
def test_no_command_prints_the_password_in_any_form(family: Family, password: str, tmp_path: Path) -> None:
    plan = family.plan(password)
    stdout, stderr, results = run_plan(plan, tmp_path)

    printed = stdout + stderr
    leaked = sorted(s for s in spellings(password) if s.encode() in printed)
    assert not leaked, f"password {password!r} printed as {leaked}"
    assert len(results) == len(plan)
    for entry, result in zip(plan, results, strict=True):
        where = f"{entry['argv']} on {json.loads(entry['env'][SECTION_ENV])['backend']}"
        if entry["reachable"]:
            assert result["code"] in (0, 3, EXEC_REFUSED), f"{where} exited {result['code']}"
            if family.name == "postgres":
                assert result["code"] == 0, f"{where} exited {result['code']}"
        else:
            assert result["code"] == 3, f"{where} exited {result['code']} with the server down"
