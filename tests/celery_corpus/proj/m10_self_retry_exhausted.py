"""self.retry(exc=) until max_retries runs out: the job fails with the real cause."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


class UpstreamDown(Exception):
    pass


@shared_task(bind=True, max_retries=2)
def poll_upstream(self, tag):
    record(tag, "run", retries=self.request.retries)
    try:
        raise UpstreamDown("still down")
    except UpstreamDown as exc:
        raise self.retry(exc=exc, countdown=0.5)


def scenario():
    return {"a": poll_upstream.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["UpstreamDown", "still down"])}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(0.5, 0.5), (0.5, 0.5)]}
