"""Celery app of the billing service."""
import os
from datetime import timedelta

from lexigram_compat.celery import Celery
from lexigram_compat.celery.schedules import crontab
from lexigram_compat import default_registry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")

app = Celery("billing", broker=os.environ.get("BROKER_URL", "amqp://guest@localhost//"), registry=default_registry)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Every five minutes: charge the subscriptions due now.
    "purge-drafts": {  # LEFT
        "task": "billing.invoices.tasks.purge_draft_invoices",
        "schedule": crontab(minute=0, hour=4),
        "options": {"expires": 3600},
    },
}
app.conf.timezone = "UTC"
