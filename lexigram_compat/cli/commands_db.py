"""``db migrate``: apply the PostgreSQL engine's numbered migrations.

``lexigram-compat db migrate APP`` migrates every postgres backend of the app
(its DSN and ``tasks.extra.postgres_schema``); ``--dsn`` migrates one database
without an app. Applying is idempotent and safe to run from several deploys
at once (an advisory lock serialises them). The app is not started: an engine
refuses to start on a schema that is behind, which is what this fixes.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import click

from lexigram_compat.cli.exits import CliError
from lexigram_compat.cli.loading import load_app
from lexigram_compat.cli.state import CliState, json_option
from lexigram_compat.config_loading import redact_url
from lexigram_compat.redaction import remember_secrets_of

__all__ = ["db"]


@dataclass(frozen=True)
class _Target:
    dsn: str
    schema: str


def _targets_of_app(app_spec: str) -> list[_Target]:
    from lexigram_compat.adapters.postgres import PostgresEngine

    app = load_app(app_spec)
    found: list[_Target] = []
    for backend in app.backend_set:
        engine = backend.engine
        if isinstance(engine, PostgresEngine):
            target = _Target(engine.dsn, engine.schema)
            if target not in found:
                found.append(target)
    if not found:
        raise CliError(
            f"APP {app_spec!r} has no postgres backend to migrate",
            hint="set tasks.backend.type: postgres (or pass --dsn)",
        )
    return found


async def _migrate(targets: list[_Target]) -> list[dict[str, object]]:
    import psycopg

    from lexigram_compat.adapters.postgres import apply_migrations
    from lexigram_compat.adapters.postgres.connections import translate

    done: list[dict[str, object]] = []
    for target in targets:
        try:
            applied = await apply_migrations(target.dsn, target.schema)
        except psycopg.Error as exc:
            # Never the driver's text unredacted: it may quote the DSN or its password.
            raise (
                translate(exc, "db migrate")
                or CliError(f"db migrate failed on {redact_url(target.dsn)}: {type(exc).__name__}")
            ) from None
        done.append(
            {
                "database": redact_url(target.dsn),
                "schema": target.schema,
                "applied": [f"{m.version:04d}_{m.name}" for m in applied],
            }
        )
    return done


@click.group()
def db() -> None:
    """Database schema of the PostgreSQL engine."""


@db.command()
@click.argument("app_spec", metavar="[APP]", required=False)
@click.option("--dsn", help="Migrate this PostgreSQL database instead of an app's backends.")
@click.option("--schema", default=None, help="Schema for --dsn (default: lexigram).")
@json_option
@click.pass_context
def migrate(
    ctx: click.Context, *, app_spec: str | None, dsn: str | None, schema: str | None, json_flag: bool
) -> None:
    """Apply missing migrations to APP's postgres backends (or to --dsn)."""
    from lexigram_compat.adapters.postgres.sql import DEFAULT_SCHEMA, validate_schema

    state = ctx.ensure_object(CliState)
    out = state.output(json_flag)
    if (app_spec is None) == (dsn is None):
        raise CliError("give either APP or --dsn", hint="lexigram-compat db migrate myproj.jobs:app")
    if app_spec is not None and schema is not None:
        raise CliError("--schema goes with --dsn; an app's schema is tasks.extra.postgres_schema")
    if dsn is not None:
        from lexigram_compat.adapters.postgres.connections import check_dsn

        check_dsn(dsn, "--dsn")
        remember_secrets_of(dsn)  # a DSN from the command line skips config validation
    targets = (
        _targets_of_app(app_spec)
        if app_spec is not None
        else [_Target(dsn or "", validate_schema(schema or DEFAULT_SCHEMA))]
    )
    done = asyncio.run(_migrate(targets))
    if out.json_mode:
        out.json({"migrated": done})
        return
    for entry in done:
        applied = entry["applied"]
        names = [str(name) for name in applied] if isinstance(applied, list) else []
        what = f"applied {', '.join(names)}" if names else "already up to date"
        out.line(f"{entry['database']} (schema {entry['schema']}): {what}")
