"""expires= on the declaration and on the call: a job not started by then is not run."""

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
            (f"{M}/stale",), countdown=2, expires=datetime.now(UTC) + timedelta(seconds=1)
        ),
    }


EXPECT = {"in_time": ("SUCCESS", "fresh"), "stale": ("REVOKED", None)}
ATTEMPTS = {"in_time": 1, "stale": 0}
