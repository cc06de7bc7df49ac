-- One table for every job, whatever its state. Hot path: the partial index
-- jobs_ready only holds jobs waiting to run, so claims scan a small index
-- however many finished rows are kept for get_job.
CREATE TABLE {schema}.jobs (
    id text PRIMARY KEY,
    seq bigint GENERATED ALWAYS AS IDENTITY,
    queue text NOT NULL,
    task_name text NOT NULL,
    state text NOT NULL DEFAULT 'pending'
        -- reserved: claimed ahead by a worker (prefetch), not started, no attempt counted.
        CHECK (state IN ('pending', 'retrying', 'reserved', 'running', 'completed', 'failed', 'cancelled')),
    priority integer NOT NULL DEFAULT 5,
    run_at timestamptz NOT NULL DEFAULT now(),
    attempts integer NOT NULL DEFAULT 0,
    max_attempts integer NOT NULL DEFAULT 1,
    -- A new random value at every claim and rescue: an outcome carrying another
    -- token is rejected, so a stale worker cannot overwrite a newer attempt.
    token bigint NOT NULL DEFAULT 0,
    payload bytea NOT NULL,
    unique_key text,
    enqueued_at timestamptz NOT NULL DEFAULT now(),
    started_at timestamptz,
    finished_at timestamptz,
    heartbeat_at timestamptz,
    worker text,
    last_error text,
    error_type text,
    error_message text,
    traceback text,
    result jsonb
) WITH (
    fillfactor = 80,
    autovacuum_vacuum_scale_factor = 0.01,
    autovacuum_vacuum_threshold = 1000,
    autovacuum_vacuum_cost_delay = 0,
    autovacuum_analyze_scale_factor = 0.02
);

CREATE INDEX jobs_ready ON {schema}.jobs (queue, priority DESC, run_at, seq)
    WHERE state IN ('pending', 'retrying');
-- Idempotency keys: one job per key while its row exists (NULLs do not clash).
CREATE UNIQUE INDEX jobs_unique_key ON {schema}.jobs (unique_key) WHERE unique_key IS NOT NULL;
-- Rescue of jobs whose worker stopped heartbeating.
CREATE INDEX jobs_running ON {schema}.jobs (heartbeat_at) WHERE state IN ('running', 'reserved');
-- Retention sweeps of finished jobs, and the dead-letter listing (newest first).
CREATE INDEX jobs_finished ON {schema}.jobs (finished_at) WHERE state IN ('completed', 'cancelled');
CREATE INDEX jobs_dead ON {schema}.jobs (finished_at DESC, seq DESC) WHERE state = 'failed';

-- One row per (schedule, fire time), inserted in the same statement as the
-- job: however many schedulers tick, a fire time yields one job.
CREATE TABLE {schema}.schedule_fires (
    fire_key text PRIMARY KEY,
    job_id text NOT NULL,
    fired_at timestamptz NOT NULL DEFAULT now()
);
