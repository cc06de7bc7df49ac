"""rate_limit='2/s': per worker, the calls start about half a second apart."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(rate_limit="2/s")
def throttled(tag, n):
    record(f"{M}/all", "run")  # one tag: the gaps between consecutive starts, in any order
    return n


def scenario():
    return {f"n{n}": throttled.delay(f"{M}/n{n}", n) for n in range(4)}


EXPECT = {f"n{n}": ("SUCCESS", n) for n in range(4)}
ATTEMPTS = {"all": 4}
# Celery's token bucket refills continuously: a start comes up to a few hundredths of a
# second before 1/rate after the previous one (measured: 0.493 s).
DELAYS = {"all": [(0.45, 0.5)] * 3}
