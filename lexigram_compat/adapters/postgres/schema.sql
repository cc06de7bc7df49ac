-- Bookkeeping for `lexigram-compat db migrate`: the schema that holds the job
-- tables, and which numbered migrations (migrations/NNNN_*.sql) are applied.
-- {schema} is replaced by the validated, quoted schema name.
CREATE SCHEMA IF NOT EXISTS {schema};

CREATE TABLE IF NOT EXISTS {schema}.schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at timestamptz NOT NULL DEFAULT now()
);
