"""conf.beat_schedule entries with timedelta and seconds, carrying args, kwargs and options;
the scenario sends each entry as beat does when it fires (send_task with its options)."""

from datetime import timedelta

from tests.celery_corpus.sink import record

from . import settings
from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True)
def purge_sessions(self, tag, older_than_days=30):
    record(tag, "run", days=older_than_days, queue=self.request.delivery_info.get("routing_key"))
    return older_than_days


app.conf.beat_schedule = {
    **(app.conf.get("beat_schedule") or {}),
    "purge-sessions-every-6h": {
        "task": f"proj.{M}.purge_sessions",
        "schedule": timedelta(hours=6),
        "args": (f"{M}/six_hours",),
        "kwargs": {"older_than_days": 7},
        "options": {"queue": settings.REPORTS_QUEUE},
    },
    "purge-sessions-every-90s": {
        "task": f"proj.{M}.purge_sessions",
        "schedule": 90.0,
        "args": (f"{M}/seconds",),
    },
}


def scenario():
    handles = {}
    for entry in app.conf.beat_schedule.values():
        if entry["task"].startswith(f"proj.{M}."):
            tag = entry["args"][0].rsplit("/", 1)[-1]
            handles[tag] = app.send_task(
                entry["task"],
                args=list(entry.get("args", ())),
                kwargs=entry.get("kwargs", {}),
                **entry.get("options", {}),
            )
    return handles


EXPECT = {"six_hours": ("SUCCESS", 7), "seconds": ("SUCCESS", 30)}
ATTEMPTS = {"six_hours": 1, "seconds": 1}
