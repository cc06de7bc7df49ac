"""autoretry_for until retry_kwargs' max_retries runs out (unbound task)."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(autoretry_for=(TimeoutError,), retry_kwargs={"max_retries": 2, "countdown": 0.5})
def call_partner(tag):
    record(tag, "run")
    raise TimeoutError("partner timed out")


def scenario():
    return {"a": call_partner.delay(f"{M}/a")}


EXPECT = {"a": ("FAILURE", ["TimeoutError", "partner timed out"])}
ATTEMPTS = {"a": 3}
DELAYS = {"a": [(0.5, 0.5), (0.5, 0.5)]}
