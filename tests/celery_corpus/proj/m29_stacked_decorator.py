"""A functools.wraps decorator stacked under @app.task."""

import functools

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


def audited(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        record(args[0], "audit", fn=fn.__name__)
        return {"audited": fn(*args, **kwargs)}

    return wrapper


@app.task
@audited
def price(tag, amount, currency="EUR"):
    record(tag, "run")
    return f"{amount} {currency}"


def scenario():
    return {"a": price.delay(f"{M}/a", 5), "b": price.apply_async((f"{M}/b", 6), {"currency": "USD"})}


EXPECT = {"a": ("SUCCESS", {"audited": "5 EUR"}), "b": ("SUCCESS", {"audited": "6 USD"})}
ATTEMPTS = {"a": 1, "b": 1}
