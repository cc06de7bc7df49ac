"""rate_limit='2/s': per worker, four calls take about 1.5 s from the first start to the last."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(rate_limit="2/s")
def throttled(tag, n):
    record(f"{M}/all", "run")  # one tag: the starts, in whatever order
    return n


def scenario():
    return {f"n{n}": throttled.delay(f"{M}/n{n}", n) for n in range(4)}


EXPECT = {f"n{n}": ("SUCCESS", n) for n in range(4)}
ATTEMPTS = {"all": 4}
# Celery limits when its main process hands a task to a pool child, not when the child starts
# it: single gaps between starts vary (measured 0.28-0.56 s), the span of four does not go
# below three intervals by more than one child's pick-up lag (measured 1.20-1.35 s).
SPANS = {"all": (1.0, 1.5)}
