"""The task object is chosen at run time (a dict of handlers, getattr on the module)."""

import sys

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def export_csv(tag, rows):
    record(tag, "run", fmt="csv")
    return f"csv:{rows}"


@shared_task
def export_pdf(tag, rows):
    record(tag, "run", fmt="pdf")
    return f"pdf:{rows}"


EXPORTERS = {"csv": export_csv, "pdf": export_pdf}


def scenario():
    chosen = EXPORTERS["pdf"]
    by_name = getattr(sys.modules[__name__], "export_" + "csv")
    return {"dict": chosen.delay(f"{M}/dict", 3), "getattr": by_name.apply_async((f"{M}/getattr", 4))}


EXPECT = {"dict": ("SUCCESS", "pdf:3"), "getattr": ("SUCCESS", "csv:4")}
ATTEMPTS = {"dict": 1, "getattr": 1}
