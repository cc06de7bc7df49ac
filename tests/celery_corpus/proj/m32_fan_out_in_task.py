"""A task enqueues children in a loop (apply_async(kwargs=) and .delay), returning their count."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def notify(tag, user_id, channel="email"):
    record(tag, "run", user=user_id, channel=channel)
    return user_id


@app.task
def notify_all(tag, user_ids):
    record(tag, "run")
    for user_id in user_ids:
        notify.apply_async(kwargs={"tag": f"{tag}-child{user_id}", "user_id": user_id, "channel": "sms"})
    notify.delay(f"{tag}-last", 0)
    return len(user_ids) + 1


def scenario():
    return {"a": notify_all.delay(f"{M}/a", [1, 2, 3])}


EXPECT = {"a": ("SUCCESS", 4)}
ATTEMPTS = {"a": 1, "a-child1": 1, "a-child2": 1, "a-child3": 1, "a-last": 1}
