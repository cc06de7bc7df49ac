"""dont_autoretry_for wins over autoretry_for; an unlisted error fails at once."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task(
    autoretry_for=(OSError,),
    dont_autoretry_for=(PermissionError,),
    retry_kwargs={"max_retries": 1, "countdown": 0.5},
)
def read_file(tag, kind):
    record(tag, "run", kind=kind)
    if kind == "permission":
        raise PermissionError("denied")
    if kind == "value":
        raise ValueError("bad value")
    raise FileNotFoundError("missing")


def scenario():
    return {
        "excluded": read_file.delay(f"{M}/excluded", "permission"),
        "unlisted": read_file.delay(f"{M}/unlisted", "value"),
        "listed": read_file.delay(f"{M}/listed", "missing"),
    }


EXPECT = {
    "excluded": ("FAILURE", ["PermissionError", "denied"]),
    "unlisted": ("FAILURE", ["ValueError", "bad value"]),
    "listed": ("FAILURE", ["FileNotFoundError", "missing"]),
}
ATTEMPTS = {"excluded": 1, "unlisted": 1, "listed": 2}
DELAYS = {"listed": [(0.5, 0.5)]}
