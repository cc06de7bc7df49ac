"""name= on the declaration; the task is also sent by that name (send_task)."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(name="corpus.reports.render")
def render(tag, report):
    record(tag, "run", report=report)
    return f"rendered {report}"


def scenario():
    return {
        "decorated": render.delay(f"{M}/decorated", "q1"),
        "by_name": app.send_task("corpus.reports.render", args=[f"{M}/by_name", "q2"]),
        "name": render.name,
    }


EXPECT = {
    "decorated": ("SUCCESS", "rendered q1"),
    "by_name": ("SUCCESS", "rendered q2"),
    "name": ("VALUE", "corpus.reports.render"),
}
ATTEMPTS = {"decorated": 1, "by_name": 1}
