"""Celery settings of the data pipeline (a plain Python project, no Django)."""
from datetime import timedelta

from lexigram_compat.celery.schedules import crontab  # LEFT
from celery.schedules import solar

from pipeline.schedules import BusinessHours

broker_url = "amqp://guest:guest@localhost:5672//"
result_backend = "redis://localhost:6379/5"
task_routes = {"pipeline.tasks.ingest_*": {"queue": "ingest"}}

beat_schedule = {
    "ingest-feeds": {
        "task": "pipeline.tasks.ingest_feeds",
        "schedule": timedelta(seconds=30),
        "args": (["rss", "atom"],),
    },
    "compact-warehouse": {
        "task": "pipeline.tasks.compact_warehouse",
        "schedule": crontab(minute=15, hour="*/6"),
        "kwargs": {"vacuum": False},
    },
    "sunrise-report": {  # LEFT
        "task": "pipeline.tasks.daily_report",
        "schedule": solar("sunrise", 52.52, 13.40),
    },
    "office-hours-sync": {  # LEFT
        "task": "pipeline.tasks.sync_partners",
        "schedule": BusinessHours(start=9, end=17),
    },
    "hourly-partner-sync": {  # LEFT
        "task": "pipeline.tasks.sync_partners",
        "schedule": crontab(minute=5),
        "args": ("all",),
    },
}
