"""A sample of the converted corpus, imported and run on the memory engine: the shim's
output and the neutral output reach the outcomes the original Celery code means
(attempts, final state, result), each in a process of its own."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.migrate.golden import EXPECTED, MODES

REPO = Path(__file__).resolve().parents[2]
DRIVER = """
import json
from runnable.services import start
from lexigram_compat.celery import current_app
ids = start()
app = current_app()
app.tasks_app.run_worker_sync(until_idle=True)
queue = app.queue_handle()
jobs = {name: queue.get_job_sync(job_id) for name, job_id in ids.items()}
print(json.dumps({name: [info.status.value, info.attempts, info.result] for name, info in jobs.items()}))
app.close()
"""

# What the original means on Celery: a plain error is not retried; self.retry retries up to
# max_retries, then fails; autoretry_for retries its exceptions.
INTENT = {
    "add": ["completed", 1, 5],
    "flaky": ["completed", 3, {"retries": 2, "name": "runnable.tasks.flaky"}],
    "gives_up": ["failed", 2, None],
    "auto": ["completed", 3, 3],
    "boom": ["failed", 1, None],
}


@pytest.mark.parametrize("mode", MODES)
def test_converted_runnable_project_keeps_the_originals_outcomes(mode: str) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(EXPECTED / mode), str(REPO)])}
    done = subprocess.run([sys.executable, "-c", DRIVER], env=env, capture_output=True, text=True,
                          timeout=60, check=False, cwd=EXPECTED / mode)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == INTENT
