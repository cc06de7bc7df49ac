"""Issue 14, "Must show" 1 and 2, in the bounded CI form: per engine x broker pair, on
private servers (``servers.py``), 500 jobs while the native worker is SIGKILLed twice
mid-job and SIGTERMed once, each private server crashes once while the producer
enqueues, and bad input is written straight onto the queue structure.

The guarantees (``Report.failures``): 0 lost, 0 records left pending/running,
0 same-attempt duplicates, every ``Err`` a ``BrokerUnavailableError`` with no job
written or the distinct outcome-unknown error; every bad input dead-lettered with a
reason naming it, the worker never exiting on its own. The table is printed
(``pytest -s``) and is the failure message. Each pair is its own xdist group, so
pairs run side by side under ``--dist loadgroup``. ``scripts/chaos`` runs the same
scenario at any size.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from .pairs import PAIRS
from .report import table
from .scenario import Options, run_pair

CI = Options(jobs=500, rate=20.0, kills=2, sigterms=1, broker_crashes=1, outage=3.0, settle_timeout=60.0)
"""500 jobs over 25 s: the producer outlives a RabbitMQ node's crash recovery (~10 s) and
then a Redis crash."""
SERVER_NAMES = {"postgres": "postgres", "rabbit": "rabbitmq", "redis": "redis"}


@pytest.mark.timeout(300)
@pytest.mark.parametrize(
    "pair", [pytest.param(key, marks=pytest.mark.xdist_group(f"chaos-{key}")) for key in PAIRS]
)
async def test_no_job_is_lost_or_mislabelled_through_worker_kills_and_broker_crashes(
    pair: str, tmp_path: Path
) -> None:
    options = Options(**{**vars(CI), "workdir": tmp_path})
    report = await run_pair(pair, options)
    text = table([report])
    print(f"\n{text}")

    assert report.error is None, text
    # The scenario did what it says, or its verdict would prove nothing.
    assert (report.jobs, report.kills, report.sigterms) == (500, 2, 1), text
    assert sorted(report.crashes) == sorted(SERVER_NAMES[kind] for kind in PAIRS[pair].kinds), text
    assert len(report.bad_sent) == len(PAIRS[pair].bad_inputs), text
    assert report.ok > 0, text
    assert report.completed > 0, text
    assert report.failures() == [], text
