"""conf.beat_schedule crontab entries (minute/hour/day_of_week shapes); the scenario
sends each as beat does when it fires."""

from celery import shared_task
from celery.schedules import crontab

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@shared_task
def nightly_report(tag, kind="daily"):
    record(tag, "run", kind=kind)
    return kind


app.conf.beat_schedule = {
    **(app.conf.get("beat_schedule") or {}),
    "nightly": {
        "task": f"proj.{M}.nightly_report",
        "schedule": crontab(minute=0, hour=3),
        "args": (f"{M}/nightly",),
    },
    "weekdays": {
        "task": f"proj.{M}.nightly_report",
        "schedule": crontab(minute="*/15", hour="9-17", day_of_week="mon-fri"),
        "args": (f"{M}/weekdays",),
        "kwargs": {"kind": "office"},
    },
    "monthly": {
        "task": f"proj.{M}.nightly_report",
        "schedule": crontab(0, 6, day_of_month="1"),
        "kwargs": {"tag": f"{M}/monthly", "kind": "monthly"},
    },
}


def scenario():
    handles = {}
    for name, entry in app.conf.beat_schedule.items():
        if entry["task"].startswith(f"proj.{M}."):
            handles[name] = app.send_task(
                entry["task"],
                args=list(entry.get("args", ())),
                kwargs=entry.get("kwargs", {}),
                **entry.get("options", {}),
            )
    return handles


EXPECT = {
    "nightly": ("SUCCESS", "daily"),
    "weekdays": ("SUCCESS", "office"),
    "monthly": ("SUCCESS", "monthly"),
}
ATTEMPTS = {"nightly": 1, "weekdays": 1, "monthly": 1}
