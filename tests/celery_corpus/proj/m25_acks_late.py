"""acks_late=True with bind and max_retries, as payment code declares it."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, acks_late=True, max_retries=1)
def charge(self, tag, amount):
    record(tag, "run", retries=self.request.retries)
    return {"charged": amount}


def scenario():
    return {"a": charge.delay(f"{M}/a", 42)}


EXPECT = {"a": ("SUCCESS", {"charged": 42})}
ATTEMPTS = {"a": 1}
