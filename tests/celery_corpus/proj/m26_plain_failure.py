"""An exception with no retry option: the job fails after one attempt."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


class InvalidInvoice(ValueError):
    pass


@shared_task
def validate(tag, number):
    record(tag, "run", number=number)
    if number < 0:
        raise InvalidInvoice(f"invoice {number} is negative")
    return number


def scenario():
    return {"good": validate.delay(f"{M}/good", 7), "bad": validate.delay(f"{M}/bad", -1)}


EXPECT = {"good": ("SUCCESS", 7), "bad": ("FAILURE", ["InvalidInvoice", "invoice -1 is negative"])}
ATTEMPTS = {"good": 1, "bad": 1}
