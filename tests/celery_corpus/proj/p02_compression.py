"""compression='zlib' on the declaration and on the call."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(compression="zlib")
def bulky(tag, blob):
    record(tag, "run", size=len(blob))
    return len(blob)


def scenario():
    return {
        "decl": bulky.delay(f"{M}/decl", "x" * 5000),
        "call": bulky.apply_async((f"{M}/call", "y" * 100), compression="zlib"),
    }


EXPECT = {"decl": ("SUCCESS", 5000), "call": ("SUCCESS", 100)}
ATTEMPTS = {"decl": 1, "call": 1}
