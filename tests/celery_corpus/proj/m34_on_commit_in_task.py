"""A task that saves then enqueues follow-ups in on_commit lambdas with apply_async(kwargs=, countdown=)."""

from tests.celery_corpus.sink import record

from . import transaction
from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def reindex(tag, order_id):
    record(tag, "run", order=order_id)
    return order_id


@app.task
def place_order(tag, order_id):
    record(tag, "run")
    with transaction.atomic():
        record(tag, "saved", order=order_id)
        transaction.on_commit(
            lambda: reindex.apply_async(kwargs={"tag": f"{tag}-reindex", "order_id": order_id}, countdown=1)
        )
        record(f"{tag}-reindex", "sent")
    return "placed"


def scenario():
    return {"a": place_order.delay(f"{M}/a", 9)}


EXPECT = {"a": ("SUCCESS", "placed")}
ATTEMPTS = {"a": 1, "a-reindex": 1}
DELAYS = {"a-reindex": [(1.0, 1.0)]}
