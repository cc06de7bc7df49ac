"""The native PostgreSQL engine (psycopg 3): see ``docs/engines/postgres.md``."""

from lexigram_compat.adapters.postgres.engine import PostgresEngine
from lexigram_compat.adapters.postgres.migrate import SchemaBehindError, apply_migrations, check_schema

__all__ = ["PostgresEngine", "SchemaBehindError", "apply_migrations", "check_schema"]
