"""@app.task with no options; .delay with positional arguments."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def add(tag, x, y):
    record(tag, "run", args=[x, y])
    return x + y


def scenario():
    return {"a": add.delay(f"{M}/a", 2, 3)}


EXPECT = {"a": ("SUCCESS", 5)}
ATTEMPTS = {"a": 1}
