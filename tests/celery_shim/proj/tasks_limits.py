"""Time limits as Celery code writes them: ``soft_time_limit`` with ``time_limit``, the
task catching ``SoftTimeLimitExceeded`` to clean up, or retrying on it."""

import time

from lexigram_compat.celery.exceptions import SoftTimeLimitExceeded

from .celery_app import app

SOFT_LIMIT = 0.3
HARD_LIMIT = 10


@app.task(soft_time_limit=SOFT_LIMIT, time_limit=HARD_LIMIT)
def cleans_up(seconds: float) -> list:
    started = time.time()
    try:
        while time.time() - started < seconds:
            time.sleep(0.01)
    except SoftTimeLimitExceeded:
        return [started, time.time()]
    return [started]


@app.task(
    soft_time_limit=0.1,
    time_limit=HARD_LIMIT,
    autoretry_for=(SoftTimeLimitExceeded,),
    max_retries=1,
    default_retry_delay=0.01,
)
def retries_when_late(seconds: float) -> None:
    started = time.time()
    while time.time() - started < seconds:
        time.sleep(0.01)
