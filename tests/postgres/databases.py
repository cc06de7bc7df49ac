"""Template-database isolation: the schema is migrated once per test process
into a template database; every test gets ``CREATE DATABASE ... TEMPLATE``
(a file copy, fast) and drops it afterwards. Names carry a random part, so
concurrent runs (other engineers, pytest-xdist workers) never meet."""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import uuid
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

from lexigram_compat.adapters.postgres import apply_migrations
from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA

__all__ = ["ScratchDatabase", "create_test_database", "dsn_for", "template_name"]

_templates: dict[str, str] = {}
"""Server DSN -> this process's migrated template database."""


def dsn_for(server_dsn: str, database: str) -> str:
    """``server_dsn`` with its database replaced."""
    parts = urlsplit(server_dsn)
    return urlunsplit(parts._replace(path=f"/{database}"))


def _admin(server_dsn: str) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(server_dsn, autocommit=True)


def _drop(server_dsn: str, name: str, *, template: bool = False) -> None:
    with contextlib.suppress(psycopg.Error), _admin(server_dsn) as conn:
        if template:
            conn.execute(sql.SQL("ALTER DATABASE {} IS_TEMPLATE false").format(sql.Identifier(name)))
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


async def template_name(server_dsn: str) -> str:
    """The migrated template database of this test process (created on first use)."""
    if server_dsn not in _templates:
        name = f"lexigram_tpl_{uuid.uuid4().hex[:12]}"
        await asyncio.to_thread(_create, server_dsn, name, None)
        atexit.register(_drop, server_dsn, name, template=True)
        await apply_migrations(dsn_for(server_dsn, name), DEFAULT_SCHEMA)
        _templates[server_dsn] = name
    return _templates[server_dsn]


def _create(server_dsn: str, name: str, template: str | None) -> None:
    with _admin(server_dsn) as conn:
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement += sql.SQL(" TEMPLATE {}").format(sql.Identifier(template))
        conn.execute(statement)


class ScratchDatabase:
    """One test's database: ``dsn`` to use, ``drop()`` when done."""

    def __init__(self, server_dsn: str, name: str) -> None:
        self.server_dsn = server_dsn
        self.name = name
        self.dsn = dsn_for(server_dsn, name)

    async def drop(self) -> None:
        await asyncio.to_thread(_drop, self.server_dsn, self.name)


async def create_test_database(server_dsn: str, *, migrated: bool = True) -> ScratchDatabase:
    """A fresh database: a copy of the migrated template, or empty with ``migrated=False``."""
    name = f"lexigram_test_{uuid.uuid4().hex[:12]}"
    template = await template_name(server_dsn) if migrated else None
    await asyncio.to_thread(_create, server_dsn, name, template)
    return ScratchDatabase(server_dsn, name)
