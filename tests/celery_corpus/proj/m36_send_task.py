"""app.send_task by the default name (module.function), with args=, kwargs= and countdown=."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def remote_sum(tag, values, offset=0):
    record(tag, "run")
    return sum(values) + offset


def scenario():
    record(f"{M}/later", "sent")
    return {
        "now": app.send_task(f"proj.{M}.remote_sum", args=[f"{M}/now", [1, 2, 3]], kwargs={"offset": 4}),
        "later": app.send_task(f"proj.{M}.remote_sum", args=[f"{M}/later", [5]], countdown=1),
    }


EXPECT = {"now": ("SUCCESS", 10), "later": ("SUCCESS", 5)}
ATTEMPTS = {"now": 1, "later": 1}
DELAYS = {"later": [(1.0, 1.0)]}
