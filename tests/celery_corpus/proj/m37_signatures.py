"""Signatures: .s() partial then .delay (the call's arguments go first, as Celery merges them),
.si() immutable, .signature(kwargs=).apply_async, .set(countdown=)."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def combine(tag, a, b=0):
    record(tag, "run")
    return [a, b]


def scenario():
    record(f"{M}/later", "sent")
    return {
        "partial": combine.s(1, b=2).delay(f"{M}/partial"),
        "immutable": combine.si(f"{M}/immutable", 3, 4).delay("ignored"),
        "signature": combine.signature(args=[f"{M}/signature"], kwargs={"a": 5, "b": 6}).apply_async(),
        "later": combine.s(7).set(countdown=1).delay(f"{M}/later"),
    }


EXPECT = {
    "partial": ("SUCCESS", [1, 2]),
    "immutable": ("SUCCESS", [3, 4]),
    "signature": ("SUCCESS", [5, 6]),
    "later": ("SUCCESS", [7, 0]),
}
ATTEMPTS = {"partial": 1, "immutable": 1, "signature": 1, "later": 1}
DELAYS = {"later": [(1.0, 1.0)]}
