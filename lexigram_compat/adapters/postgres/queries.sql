-- Every statement the PostgreSQL engine runs, by name (sql.py loads them).
-- {schema} is the validated, quoted schema; values are always bound
-- parameters, never text built from user strings. The worker's per-job arrays
-- (ids, tokens, results) are bound in binary (%b): psycopg builds a list's
-- text form element by element in Python, several times the binary's cost.

-- name: insert_job
-- One job, one round trip; NOTIFY rides on the same statement (delivered at
-- commit, so a rolled-back transactional enqueue wakes nobody).
INSERT INTO {schema}.jobs
    (id, queue, task_name, priority, run_at, max_attempts, unique_key, payload, enqueued_at)
VALUES (%s, %s, %s, %s, COALESCE(%s::timestamptz, now()), %s, %s, %s, %s)
ON CONFLICT DO NOTHING
RETURNING id, pg_notify(%s, queue);

-- name: insert_fresh_job
-- One job without an idempotency or schedule key, on the engine's own
-- autocommit connections: no ON CONFLICT and no row back, as cheap for the
-- server and the driver as a bare INSERT. pg_notify is called by the row's
-- source (delivered at commit only). An id the caller chose that is taken
-- fails the statement, nothing written, and the engine tries insert_job.
INSERT INTO {schema}.jobs
    (id, queue, task_name, priority, run_at, max_attempts, payload, enqueued_at)
SELECT %s, n.queue, %s, %s, COALESCE(%s::timestamptz, now()), %s, %s, %s
FROM (SELECT %s::text AS queue, pg_notify(%s, %s)) AS n;

-- name: existing_job_id
SELECT id FROM {schema}.jobs WHERE unique_key = %s OR id = %s ORDER BY (unique_key = %s) DESC LIMIT 1;

-- name: insert_batch
-- Many jobs of one task with the same columns but id and payload (what one
-- enqueue_many of one task makes), on the engine's own autocommit
-- connections: the ids and wire bytes as two binary arrays, the shared
-- columns once, one NOTIFY. No ON CONFLICT (its speculative insertion costs
-- each row a second probe of the unique indexes): the ids are fresh, and an
-- id the caller chose that is taken fails the whole statement, nothing
-- written, and the engine writes the batch again with insert_plain_jobs.
WITH inserted AS (
    INSERT INTO {schema}.jobs
        (id, queue, task_name, priority, run_at, max_attempts, payload, enqueued_at)
    SELECT u.id, %(queue)s, %(task)s, %(priority)s, COALESCE(%(run_at)s::timestamptz, now()),
           %(max_attempts)s, u.payload, %(enqueued_at)s
    FROM unnest(%(ids)b::text[], %(payloads)b::bytea[]) WITH ORDINALITY AS u(id, payload, ord)
    ORDER BY u.ord
    RETURNING 1
)
SELECT pg_notify(%(channel)s, %(queue)s) WHERE EXISTS (SELECT FROM inserted);

-- name: insert_plain_jobs
-- Many jobs without idempotency or schedule keys (the common batch): their
-- payloads as one JSON array, each element the job's wire bytes as they are
-- (the json type keeps an element's text verbatim), its columns read from the
-- same text. The id of each is its own, so nothing comes back but the NOTIFY.
WITH inserted AS (
    INSERT INTO {schema}.jobs
        (id, queue, task_name, priority, run_at, max_attempts, payload, enqueued_at)
    SELECT t.id, t.queue, t.task, t.priority, COALESCE(t.run_at, now()), t.max_attempts,
           convert_to(t.payload::text, 'UTF8'), t.enqueued_at
    FROM ROWS FROM (
        json_array_elements(%(jobs)s::json),
        json_to_recordset(%(jobs)s::json) AS (
            id text, queue text, task text, priority int, run_at timestamptz, max_attempts int,
            enqueued_at timestamptz)
    ) WITH ORDINALITY AS t(payload, id, queue, task, priority, run_at, max_attempts, enqueued_at, ord)
    ORDER BY t.ord
    ON CONFLICT DO NOTHING
    RETURNING queue
)
SELECT pg_notify(%(channel)s, q) FROM (SELECT DISTINCT queue AS q FROM inserted) AS s;

-- name: insert_jobs
-- Many jobs in one statement, passed as one JSON array (decoded by the server,
-- far cheaper than binding ten arrays). A job carrying a schedule fire key is
-- inserted only when its (schedule, fire time) row is new. Returns the id per
-- input, in order: the existing job's id where an id, key or fire time was taken.
WITH input AS (
    SELECT t.id, t.queue, t.task_name, t.priority, t.run_at, t.max_attempts, t.unique_key,
           convert_to(t.payload, 'UTF8') AS payload, t.enqueued_at, t.fire_key, t.ord
    FROM jsonb_to_recordset(%(jobs)s::jsonb) AS t(
        id text, queue text, task_name text, priority int, run_at timestamptz, max_attempts int,
        unique_key text, payload text, enqueued_at timestamptz, fire_key text, ord int)
),
fired AS (
    INSERT INTO {schema}.schedule_fires (fire_key, job_id)
    SELECT fire_key, id FROM input WHERE fire_key IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING fire_key
),
inserted AS (
    INSERT INTO {schema}.jobs
        (id, queue, task_name, priority, run_at, max_attempts, unique_key, payload, enqueued_at)
    SELECT id, queue, task_name, priority, COALESCE(run_at, now()), max_attempts, unique_key,
           payload, enqueued_at
    FROM input
    WHERE fire_key IS NULL OR fire_key IN (SELECT fire_key FROM fired)
    ORDER BY ord
    ON CONFLICT DO NOTHING
    RETURNING id, unique_key, queue
),
notified AS (
    SELECT pg_notify(%(channel)s, q) FROM (SELECT DISTINCT queue AS q FROM inserted) AS s
)
-- unresolved: a key taken by a transaction that committed while this one
-- waited on it (this statement's snapshot cannot see that row; the caller
-- looks it up with existing_job_id in a new statement).
SELECT COALESCE(new.id, same_key.id, fire.job_id, old.id, i.id), (SELECT count(*) FROM notified),
       new.id IS NULL AND same_key.id IS NULL AND old.id IS NULL AND i.unique_key IS NOT NULL
FROM input AS i
LEFT JOIN inserted AS new ON new.id = i.id
LEFT JOIN inserted AS same_key ON same_key.unique_key = i.unique_key
LEFT JOIN {schema}.schedule_fires AS fire ON fire.fire_key = i.fire_key
LEFT JOIN {schema}.jobs AS old ON old.unique_key = i.unique_key
ORDER BY i.ord;

-- name: ready_jobs
-- Not a statement: the ready jobs `claim` and `complete_and_advance` take
-- (put in as {ready_jobs}), at most %(limit)s, best first (priority, then
-- run-at, then age), rows another worker is claiming skipped, not waited for.
-- One index walk per queue (LATERAL, queue = q.name): `queue = ANY(...)`
-- cannot read the jobs_ready index in order, so the planner read every ready
-- job and sorted them all, a claim costing more the deeper the backlog. Each
-- walk stops after %(limit)s rows; the best %(limit)s of them are taken (with
-- several queues, the others' row locks end with the statement).
SELECT ready.id, ready.priority, ready.run_at, ready.seq
FROM (SELECT DISTINCT name FROM unnest(%(queues)s::text[]) AS u(name)) AS q
CROSS JOIN LATERAL (
    SELECT id, priority, run_at, seq FROM {schema}.jobs
    WHERE state IN ('pending', 'retrying') AND queue = q.name AND run_at <= now()
    ORDER BY priority DESC, run_at, seq
    LIMIT %(limit)s
    FOR UPDATE SKIP LOCKED
) AS ready
ORDER BY ready.priority DESC, ready.run_at, ready.seq
LIMIT %(limit)s;

-- name: claim
-- A batch per round trip: the ready jobs ({ready_jobs}). The first %(run)s jobs start
-- now (running, attempt counted); the rest are reserved (prefetched): no
-- attempt is counted until `start` moves them to running.
-- set_config(..., true): this statement's commit waits for the WAL flush even
-- on the worker's asynchronous-commit connections: a counted attempt must
-- survive a server crash (max_attempts and the poison-pill rule count on it).
WITH durable AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'on', true) AS setting
),
picked AS MATERIALIZED (
    SELECT ready.id, row_number() OVER (ORDER BY ready.priority DESC, ready.run_at, ready.seq) AS n
    FROM ({ready_jobs}) AS ready
)
UPDATE {schema}.jobs AS j
SET state = CASE WHEN picked.n <= %(run)s THEN 'running' ELSE 'reserved' END,
    attempts = j.attempts + (picked.n <= %(run)s)::int,
    -- Random, not token + 1: workers commit asynchronously, and a claim a
    -- server crash forgot must not give its token to the next claim.
    token = (random() * 9.2e18)::bigint,
    started_at = CASE WHEN picked.n <= %(run)s THEN now() END, heartbeat_at = now(),
    worker = %(worker)s
FROM picked, durable
WHERE j.id = picked.id AND durable.setting = 'on'
RETURNING j.id, j.queue, j.token, j.attempts, j.payload, j.priority, j.run_at, j.seq, j.state;

-- name: start
-- Reserved (prefetched) jobs a slot takes: the attempt counts from here, so
-- the commit is synchronous (see claim). A row already running under the same
-- token was started by this worker's own completion statement
-- (complete_and_advance) whose reply was lost: its counted attempt is returned
-- as it is (the token is new at every reservation and moves on at a rescue).
WITH durable AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'on', true) AS setting
)
UPDATE {schema}.jobs AS j
SET state = 'running', attempts = j.attempts + (j.state = 'reserved')::int, started_at = now(),
    heartbeat_at = now()
FROM unnest(%b::text[], %b::bigint[]) AS u(id, token), durable
WHERE j.id = u.id AND j.token = u.token AND j.state IN ('reserved', 'running')
    AND durable.setting = 'on'
RETURNING j.id, j.attempts;

-- name: complete
UPDATE {schema}.jobs AS j
SET state = 'completed', finished_at = now(), result = u.result::jsonb, last_error = NULL,
    worker = NULL, heartbeat_at = NULL
FROM unnest(%b::text[], %b::bigint[], %b::text[]) AS u(id, token, result)
WHERE j.id = u.id AND j.token = u.token AND j.state = 'running'
RETURNING j.id;

-- name: complete_and_advance
-- Completions with the worker's next step in the same round trip: the reserved
-- jobs that the slots these completions free will take are started (attempt
-- counted, as `start`), and as many jobs are reserved ahead in their place (as
-- `claim`, none counted). %(keep)s false: completed rows are deleted
-- (retention.completed_seconds = 0), as `complete_and_delete`. The commit waits
-- for the WAL flush only when an attempt was counted (see claim): set_config
-- runs per started row, and synchronous_commit is read at commit.
WITH kept AS (
    UPDATE {schema}.jobs AS j
    SET state = 'completed', finished_at = now(), result = u.result::jsonb, last_error = NULL,
        worker = NULL, heartbeat_at = NULL
    FROM unnest(%(ids)b::text[], %(tokens)b::bigint[], %(results)b::text[]) AS u(id, token, result)
    WHERE %(keep)s AND j.id = u.id AND j.token = u.token AND j.state = 'running'
    RETURNING j.id
),
deleted AS (
    DELETE FROM {schema}.jobs AS j
    USING unnest(%(ids)b::text[], %(tokens)b::bigint[]) AS u(id, token)
    WHERE NOT %(keep)s AND j.id = u.id AND j.token = u.token AND j.state = 'running'
    RETURNING j.id
),
started AS (
    UPDATE {schema}.jobs AS j
    SET state = 'running', attempts = j.attempts + 1, started_at = now(), heartbeat_at = now()
    FROM unnest(%(start_ids)b::text[], %(start_tokens)b::bigint[]) AS u(id, token)
    WHERE j.id = u.id AND j.token = u.token AND j.state = 'reserved'
    RETURNING j.id, j.attempts
),
picked AS MATERIALIZED (
    SELECT ready.id FROM ({ready_jobs}) AS ready
),
reserved AS (
    UPDATE {schema}.jobs AS j
    SET state = 'reserved', token = (random() * 9.2e18)::bigint, heartbeat_at = now(),
        worker = %(worker)s
    FROM picked
    WHERE j.id = picked.id
    RETURNING j.id, j.queue, j.token, j.attempts, j.payload, j.priority, j.run_at, j.seq
)
SELECT 'done', id, NULL, NULL::bigint, NULL::int, NULL::bytea, NULL::int, NULL::timestamptz, NULL::bigint
FROM kept
UNION ALL SELECT 'done', id, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM deleted
UNION ALL SELECT 'started', id, NULL, NULL, attempts, NULL, NULL, NULL, NULL FROM started
UNION ALL SELECT 'durable', set_config('synchronous_commit', 'on', true), NULL, NULL, NULL, NULL, NULL, NULL, NULL
FROM started
UNION ALL SELECT 'reserved', id, queue, token, attempts, payload, priority, run_at, seq FROM reserved;

-- name: complete_and_delete
-- retention.completed_seconds = 0: a completed job is gone at once.
DELETE FROM {schema}.jobs AS j
USING unnest(%b::text[], %b::bigint[]) AS u(id, token)
WHERE j.id = u.id AND j.token = u.token AND j.state = 'running'
RETURNING j.id;

-- name: retry
UPDATE {schema}.jobs AS j
SET state = 'retrying', run_at = u.run_at, last_error = u.error, worker = NULL, heartbeat_at = NULL
FROM unnest(%s::text[], %s::bigint[], %s::timestamptz[], %s::text[]) AS u(id, token, run_at, error)
WHERE j.id = u.id AND j.token = u.token AND j.state = 'running'
RETURNING j.id;

-- name: dead_letter
UPDATE {schema}.jobs AS j
SET state = 'failed', finished_at = now(), last_error = u.summary, error_type = u.error_type,
    error_message = u.message, traceback = u.traceback, worker = NULL, heartbeat_at = NULL
FROM unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::text[], %s::text[])
    AS u(id, token, summary, error_type, message, traceback)
WHERE j.id = u.id AND j.token = u.token AND j.state = 'running'
RETURNING j.id;

-- name: release
-- Shutdown: back to the queue, the interrupted attempt not counted (a
-- reserved job never counted one). It changes the count: synchronous commit.
WITH durable AS MATERIALIZED (
    SELECT set_config('synchronous_commit', 'on', true) AS setting
)
UPDATE {schema}.jobs AS j
SET state = 'pending', attempts = j.attempts - (j.state = 'running')::int, started_at = NULL,
    worker = NULL, heartbeat_at = NULL
FROM durable
WHERE j.id = %s AND j.token = %s AND j.state IN ('running', 'reserved') AND durable.setting = 'on'
RETURNING j.id, pg_notify(%s, j.queue);

-- name: heartbeat
UPDATE {schema}.jobs AS j
SET heartbeat_at = now()
FROM unnest(%b::text[], %b::bigint[]) AS u(id, token)
WHERE j.id = u.id AND j.token = u.token AND j.state IN ('running', 'reserved');

-- name: rescue_reserved
-- Prefetched jobs whose worker stopped heartbeating for a lease never started:
-- back to pending as they were, no attempt counted. The token moves on, so
-- the lost worker can no longer start them.
UPDATE {schema}.jobs AS j
SET state = 'pending', token = (random() * 9.2e18)::bigint, worker = NULL, heartbeat_at = NULL
WHERE j.id IN (
    SELECT id FROM {schema}.jobs
    WHERE state = 'reserved' AND heartbeat_at < now() - make_interval(secs => %(lease)s)
    LIMIT 1000
    FOR UPDATE SKIP LOCKED
)
RETURNING j.id, pg_notify(%(channel)s, j.queue);

-- name: lost_jobs
-- Running jobs whose worker stopped heartbeating for a lease: the settle step
-- decides each (another attempt after the policy's delay, or a dead letter)
-- and writes it with retry/dead_letter under the token read here. Those leave
-- 'running', so a second upkeep's write, or the lost worker's late outcome,
-- is refused.
SELECT id, queue, token, attempts, payload, max_attempts FROM {schema}.jobs
WHERE state = 'running' AND heartbeat_at < now() - make_interval(secs => %s)
LIMIT 1000
FOR UPDATE SKIP LOCKED;

-- name: sweep_finished
DELETE FROM {schema}.jobs
WHERE id IN (
    SELECT id FROM {schema}.jobs
    WHERE state IN ('completed', 'cancelled') AND finished_at < now() - make_interval(secs => %s)
    LIMIT 5000
);

-- name: sweep_fires
DELETE FROM {schema}.schedule_fires WHERE fired_at < now() - make_interval(secs => %s);

-- name: get_job
SELECT id, task_name, queue, state, attempts, max_attempts, enqueued_at, run_at, started_at,
       finished_at, last_error, result, priority, run_at > now()
FROM {schema}.jobs
WHERE id = %s;

-- name: cancel
-- A cancelled job never ran: its idempotency key is free again.
UPDATE {schema}.jobs
SET state = 'cancelled', finished_at = now(), unique_key = NULL
WHERE id = %s AND state IN ('pending', 'retrying', 'reserved')
RETURNING id;

-- name: count_waiting
-- A reserved job (prefetched, not started) is still waiting.
SELECT count(*) FROM {schema}.jobs WHERE queue = %s AND state IN ('pending', 'retrying', 'reserved');

-- name: count_pending
SELECT count(*) FROM {schema}.jobs
WHERE queue = %s AND (state = 'reserved' OR (state = 'pending' AND run_at <= now()));

-- name: count_scheduled
SELECT count(*) FROM {schema}.jobs WHERE queue = %s AND state = 'pending' AND run_at > now();

-- name: count_state
SELECT count(*) FROM {schema}.jobs WHERE queue = %s AND state = %s;

-- name: clear
DELETE FROM {schema}.jobs WHERE queue = %s AND state IN ('pending', 'retrying', 'reserved');

-- name: work_state
SELECT
    count(*) FILTER (WHERE state = 'reserved' OR (state IN ('pending', 'retrying') AND run_at <= now())),
    count(*) FILTER (WHERE state = 'running'),
    count(*) FILTER (WHERE state = 'retrying' AND run_at > now()),
    min(run_at) FILTER (WHERE state = 'retrying' AND run_at > now())
FROM {schema}.jobs
WHERE queue = ANY(%s::text[]) AND state IN ('pending', 'retrying', 'running', 'reserved');

-- name: dead_list
SELECT id, task_name, queue, attempts, error_type, error_message, traceback, finished_at, priority, payload
FROM {schema}.jobs
WHERE state = 'failed' AND (%(task)s::text IS NULL OR task_name = %(task)s)
ORDER BY finished_at DESC, seq DESC
LIMIT %(limit)s OFFSET %(offset)s;

-- name: dead_get
SELECT id, task_name, queue, attempts, error_type, error_message, traceback, finished_at, priority, payload
FROM {schema}.jobs
WHERE state = 'failed' AND id = %s;

-- name: dead_remove
DELETE FROM {schema}.jobs WHERE state = 'failed' AND id = %s;

-- name: dead_purge
DELETE FROM {schema}.jobs WHERE state = 'failed' AND (%(cutoff)s::timestamptz IS NULL OR finished_at < %(cutoff)s);

-- name: dead_count
SELECT count(*) FROM {schema}.jobs WHERE state = 'failed';

-- name: dead_over_max
-- All but the newest %s dead letters (retention.dead_letter_max; dead_letters.enforce_retention decides).
DELETE FROM {schema}.jobs
WHERE id IN (
    SELECT id FROM {schema}.jobs WHERE state = 'failed'
    ORDER BY finished_at DESC, seq DESC
    OFFSET %s
)
RETURNING id;

-- name: schema_version
SELECT coalesce(max(version), 0) FROM {schema}.schema_migrations;
