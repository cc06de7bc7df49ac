"""Two decorators under @shared_task(bind=True): self passes through both."""

import functools

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


def logged(fn):
    @functools.wraps(fn)
    def wrapper(self, tag, *args, **kwargs):
        record(tag, "log", task=self.name.rsplit(".", 1)[-1])
        return fn(self, tag, *args, **kwargs)

    return wrapper


def doubled(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return 2 * fn(*args, **kwargs)

    return wrapper


@shared_task(bind=True, max_retries=1)
@logged
@doubled
def score(self, tag, base):
    record(tag, "run", retries=self.request.retries)
    return base


def scenario():
    return {"a": score.delay(f"{M}/a", 21)}


EXPECT = {"a": ("SUCCESS", 42)}
ATTEMPTS = {"a": 1}
