"""Versioned migrations: ``lexigram-compat db migrate`` applies them, and the
engine refuses to start on a schema that is behind."""

from __future__ import annotations

import logging
from typing import Any

import psycopg

from lexigram_compat.adapters.postgres.sql import Migration, migrations, schema_bootstrap, validate_schema
from lexigram_compat.errors import ConfigurationError

__all__ = ["SchemaBehindError", "apply_migrations", "check_schema", "schema_version"]

log = logging.getLogger("lexigram_compat.postgres")


class SchemaBehindError(ConfigurationError):
    """The database schema is older than this version of lexigram-compat needs."""

    default_hint = "run: lexigram-compat db migrate APP (or lexigram-compat db migrate --dsn DSN)"


def _version_query(schema: str) -> str:
    return f'SELECT coalesce(max(version), 0) FROM "{validate_schema(schema)}".schema_migrations'


async def schema_version(conn: psycopg.AsyncConnection[Any], schema: str) -> int:
    """The highest applied migration (0 when the schema was never migrated)."""
    table = f'"{validate_schema(schema)}".schema_migrations'
    exists = await (await conn.execute("SELECT to_regclass(%s) IS NOT NULL", [table])).fetchone()
    if not exists or not exists[0]:
        return 0
    row = await (await conn.execute(_version_query(schema))).fetchone()
    return int(row[0]) if row else 0


async def check_schema(conn: psycopg.AsyncConnection[Any], schema: str) -> None:
    """Raise :class:`SchemaBehindError` when migrations are missing."""
    needed = len(migrations())
    current = await schema_version(conn, schema)
    if current < needed:
        missing = ", ".join(f"{m.version:04d}_{m.name}" for m in migrations()[current:])
        raise SchemaBehindError(
            f"the PostgreSQL schema {schema!r} is at version {current}, this lexigram-compat needs "
            f"version {needed} (missing migrations: {missing}); the engine will not start on it"
        )
    if current > needed:
        log.warning(
            "the PostgreSQL schema %r is at version %d, newer than this lexigram-compat knows (%d)",
            schema,
            current,
            needed,
        )


async def apply_migrations(dsn: str, schema: str) -> list[Migration]:
    """Apply every missing migration in one transaction; return those applied.

    An advisory lock serialises concurrent runs, so two deploys migrating at
    once apply each file once.
    """
    validate_schema(schema)
    async with await psycopg.AsyncConnection.connect(dsn, connect_timeout=10) as conn:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(hashtext(%s))", [f"lexigram-migrate:{schema}"])
            await conn.execute(schema_bootstrap(schema))
            current = await schema_version(conn, schema)
            applied = []
            for migration in migrations()[current:]:
                await conn.execute(migration.for_schema(schema))
                await conn.execute(
                    f'INSERT INTO "{schema}".schema_migrations (version, name) VALUES (%s, %s)',
                    [migration.version, migration.name],
                )
                applied.append(migration)
        return applied
