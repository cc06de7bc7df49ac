"""Enqueue in transaction.on_commit lambdas: sent after commit, never after a rollback."""

from celery import shared_task

from tests.celery_corpus.sink import record

from . import transaction

M = __name__.rsplit(".", 1)[-1]


@shared_task
def send_welcome(tag, user_id):
    record(tag, "run", user=user_id)
    return f"welcome {user_id}"


def scenario():
    handles: dict = {}
    with transaction.atomic():
        transaction.on_commit(lambda: handles.update(committed=send_welcome.delay(f"{M}/committed", 1)))
        record(f"{M}/committed", "in-transaction", sent="committed" in handles)
    try:
        with transaction.atomic():
            transaction.on_commit(lambda: handles.update(rolled=send_welcome.delay(f"{M}/rolled", 2)))
            raise RuntimeError("rollback")
    except RuntimeError:
        pass
    handles["rolled_back_sent"] = "rolled" in handles
    return handles


EXPECT = {"committed": ("SUCCESS", "welcome 1"), "rolled_back_sent": ("VALUE", False)}
ATTEMPTS = {"committed": 1, "rolled": 0}
