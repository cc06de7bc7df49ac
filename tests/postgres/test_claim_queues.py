"""The claim over several queues: one ordered walk of the ``jobs_ready`` index
per queue, merged in priority-then-age order, each job claimed once."""

from __future__ import annotations

from typing import Any

from lexigram_compat import JobStatus
from tests.conformance import jobs
from tests.conformance.harness import ok

from .conftest import MakeApp
from .test_job_source import source_of

BACKLOG = 2000
LIMIT = 16


async def test_a_claim_over_two_queues_takes_the_best_jobs_of_both_once(make_app: MakeApp) -> None:
    app = await make_app()
    low = ok(await app.queue.enqueue_many([jobs.noop(f"low-{n}") for n in range(3)]))
    urgent_other = ok(await app.queue.enqueue(jobs.noop("urgent-other"), queue="other", priority=9))
    urgent = ok(await app.queue.enqueue(jobs.noop("urgent"), priority=8))
    other = ok(await app.queue.enqueue(jobs.noop("other"), queue="other"))
    queues = []
    for job_id in (low[0], urgent_other):
        info = await app.queue.get_job(job_id)
        assert info is not None
        queues.append(info.queue)
    assert queues[0] != queues[1]
    source = source_of(app)

    # A queue named twice must not claim its jobs twice.
    claimed = await source.claim([queues[0], queues[1], queues[0]], 4)

    assert [c.job_id for c in claimed] == [urgent_other, urgent, low[0], low[1]]
    assert all(c.envelope is not None and c.envelope.attempts == 1 for c in claimed)
    rest = await source.claim([queues[1], queues[0]], 10)
    assert [c.job_id for c in rest] == [low[2], other]
    assert await app.queue.count(status=JobStatus.RUNNING) == 4
    assert await app.queue.count("other", status=JobStatus.RUNNING) == 2


def _nodes(plan: dict[str, Any]) -> list[dict[str, Any]]:
    found = [plan]
    for child in plan.get("Plans", []):
        found += _nodes(child)
    return found


async def test_the_claim_reads_a_batch_from_the_index_not_the_whole_backlog(make_app: MakeApp) -> None:
    app = await make_app()
    for start in range(0, BACKLOG, 500):
        ok(await app.queue.enqueue_many([jobs.noop(str(n)) for n in range(start, start + 500)]))
    source = source_of(app)
    engine = source.engine
    queue = app.queue.backend.queue_name
    params = {"queues": [queue, "other"], "limit": LIMIT, "run": LIMIT // 2, "worker": "test"}
    async with engine.worker_pool.connection("test") as conn:
        await conn.execute(f'ANALYZE "{engine.schema}".jobs')
        async with conn.transaction(force_rollback=True):
            cursor = await conn.execute("EXPLAIN (ANALYZE, FORMAT JSON) " + engine.queries["claim"], params)
            row = await cursor.fetchone()
    assert row is not None
    nodes = _nodes(row[0][0]["Plan"])
    # The walk of the waiting jobs (the UPDATE's own join reads `jobs AS j` by id).
    reads = [node for node in nodes if node.get("Alias") == "jobs" and "Scan" in node["Node Type"]]

    # Main's `queue = ANY(...)` claim read all 2,000 waiting rows and sorted them.
    assert reads, nodes
    assert all(node["Node Type"] == "Index Scan" and node["Index Name"] == "jobs_ready" for node in reads), (
        reads
    )
    assert sum(node["Actual Rows"] * node["Actual Loops"] for node in reads) <= 2 * LIMIT, reads
