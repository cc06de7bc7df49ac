"""apply_async call shapes: a positional tuple, args= list, args= plus kwargs=."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def join(tag, first, second="-", sep=" "):
    record(tag, "run", parts=[first, second, sep])
    return sep.join([first, second])


def scenario():
    return {
        "tuple": join.apply_async((f"{M}/tuple", "a", "b")),
        "args": join.apply_async(args=[f"{M}/args", "c"]),
        "both": join.apply_async(args=[f"{M}/both", "d"], kwargs={"second": "e", "sep": "+"}),
    }


EXPECT = {"tuple": ("SUCCESS", "a b"), "args": ("SUCCESS", "c -"), "both": ("SUCCESS", "d+e")}
ATTEMPTS = {"tuple": 1, "args": 1, "both": 1}
