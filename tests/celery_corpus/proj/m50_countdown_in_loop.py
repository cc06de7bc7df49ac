"""A loop of apply_async calls with growing countdowns (0, 0.5, 1 s)."""

from celery import shared_task

from tests.celery_corpus.sink import record

M = __name__.rsplit(".", 1)[-1]


@shared_task
def reminder(tag, step):
    record(tag, "run", step=step)
    return step


def scenario():
    handles = {}
    for step in range(3):
        record(f"{M}/step{step}", "sent")
        handles[f"step{step}"] = reminder.apply_async((f"{M}/step{step}", step), countdown=step * 0.5)
    return handles


EXPECT = {f"step{i}": ("SUCCESS", i) for i in range(3)}
ATTEMPTS = {f"step{i}": 1 for i in range(3)}
DELAYS = {"step1": [(0.5, 0.5)], "step2": [(1.0, 1.0)]}
