"""Declaration options: ``queue``, ``ignore_result``, ``time_limit``, ``acks_late``, ``throws``."""

import time

from .celery_app import app

NAMED_QUEUE = "conformance-named"


@app.task(queue=NAMED_QUEUE, acks_late=True)
def on_named_queue(x: int) -> int:
    return x + 100


@app.task(ignore_result=True)
def fire_and_forget(x: int) -> int:
    return x


@app.task(time_limit=0.2)
def too_slow(seconds: float) -> None:
    time.sleep(seconds)


@app.task(throws=(ValueError,))
def expected_failure(value: str) -> None:
    raise ValueError(f"bad value: {value}")
