"""bind=True, self.retry(exc=, countdown=1) twice, then success."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


class Flaky(Exception):
    pass


@app.task(bind=True, max_retries=3)
def sync_account(self, tag, succeed_after):
    record(tag, "run", retries=self.request.retries)
    try:
        if self.request.retries < succeed_after:
            raise Flaky(f"try {self.request.retries}")
    except Flaky as exc:
        raise self.retry(exc=exc, countdown=1)
    return self.request.retries


def scenario():
    return {"a": sync_account.delay(f"{M}/a", 2)}


EXPECT = {"a": ("SUCCESS", 2)}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(1.0, 1.0), (1.0, 1.0)]}
