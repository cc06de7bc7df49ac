"""queue= on the declaration from a settings expression (settings.REPORTS_QUEUE)."""

from tests.celery_corpus.sink import record

from . import settings
from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, queue=settings.REPORTS_QUEUE)
def build_report(self, tag):
    queue = self.request.delivery_info.get("routing_key")
    record(tag, "run", queue=queue)
    return queue


def scenario():
    return {"a": build_report.delay(f"{M}/a")}


EXPECT = {"a": ("SUCCESS", "corpus-reports")}
ATTEMPTS = {"a": 1}
