"""Celery app of the billing service."""
import os
from datetime import timedelta

from celery import Celery
from celery.schedules import crontab

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "billing.settings")

app = Celery("billing", broker=os.environ.get("BROKER_URL", "amqp://guest@localhost//"))
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

app.conf.beat_schedule = {
    # Every five minutes: charge the subscriptions due now.
    "charge-due-subscriptions": {
        "task": "billing.payments.tasks.charge_due_subscriptions",
        "schedule": timedelta(minutes=5),
    },
    "retry-failed-charges": {
        "task": "billing.payments.tasks.retry_failed_charges",
        "schedule": 900.0,
        "options": {"queue": "payments", "priority": 3},
    },
    "month-end-invoices": {
        "task": "billing.invoices.tasks.generate_monthly_invoices",
        "schedule": crontab(0, 2, day_of_month="1"),
    },
    "purge-drafts": {  # LEFT
        "task": "billing.invoices.tasks.purge_draft_invoices",
        "schedule": crontab(minute=0, hour=4),
        "options": {"expires": 3600},
    },
}
app.conf.timezone = "UTC"
