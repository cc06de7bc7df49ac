"""apply_async(queue=...) routes one call of a default-queue task elsewhere."""

from celery import shared_task

from tests.celery_corpus.sink import record

from . import settings

M = __name__.rsplit(".", 1)[-1]


@shared_task(bind=True)
def where(self, tag):
    queue = self.request.delivery_info.get("routing_key")
    record(tag, "run", queue=queue)
    return queue


def scenario():
    return {
        "default": where.delay(f"{M}/default"),
        "routed": where.apply_async((f"{M}/routed",), queue=settings.REPORTS_QUEUE),
    }


EXPECT = {"default": ("SUCCESS", "corpus"), "routed": ("SUCCESS", "corpus-reports")}
ATTEMPTS = {"default": 1, "routed": 1}
