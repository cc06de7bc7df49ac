"""apply_async(eta=now + 1 s), an aware UTC datetime."""

from datetime import UTC, datetime, timedelta

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def at_eta(tag):
    record(tag, "run")
    return "on time"


def scenario():
    record(f"{M}/a", "sent")
    return {"a": at_eta.apply_async((f"{M}/a",), eta=datetime.now(UTC) + timedelta(seconds=1))}


EXPECT = {"a": ("SUCCESS", "on time")}
ATTEMPTS = {"a": 1}
DELAYS = {"a": [(0.9, 1.0)]}
