"""A decorator stacked under the task decorator (``functools.wraps`` keeps the signature)."""

import functools

from .celery_app import app


def tagged(tag):
    def decorate(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            return {"tag": tag, "value": fn(*args, **kwargs)}

        return wrapper

    return decorate


@app.task
@tagged("audit")
def audited(amount: int, currency: str = "EUR") -> str:
    return f"{amount} {currency}"
