"""expires= on the declaration and on the call: a job not started by then is not run.

On RabbitMQ Celery also sends expires as the message's TTL: a message still queued when it
expires is dropped unseen and its result stays PENDING. The stale job expires 4 s after the
call, so the worker has fetched it (and revokes it at its countdown) even on a loaded machine
with the whole corpus queued before it."""

from datetime import UTC, datetime, timedelta

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(expires=60)
def fresh_only(tag):
    record(tag, "run")
    return "fresh"


def scenario():
    return {
        "in_time": fresh_only.delay(f"{M}/in_time"),
        "stale": fresh_only.apply_async(
            (f"{M}/stale",), countdown=5, expires=datetime.now(UTC) + timedelta(seconds=4)
        ),
    }


EXPECT = {"in_time": ("SUCCESS", "fresh"), "stale": ("REVOKED", None)}
ATTEMPTS = {"in_time": 1, "stale": 0}
