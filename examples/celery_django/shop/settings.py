"""Settings of the shop: a small Django project whose background work runs on Celery.

The database, broker and queue come from the environment so the same project runs in
development, in CI and in the migration guide's walk-through.
"""

import os
from datetime import timedelta

from celery.schedules import crontab

SECRET_KEY = os.environ.get("SHOP_SECRET_KEY", "dev-only-not-secret")
DEBUG = False
ALLOWED_HOSTS: list[str] = []
USE_TZ = True
TIME_ZONE = "UTC"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "orders",
]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": os.environ.get("SHOP_DB_NAME", "shop"),
        "USER": os.environ.get("SHOP_DB_USER", "postgres"),
        "HOST": os.environ.get("SHOP_DB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("SHOP_DB_PORT", "5432"),
    }
}

# --- Celery ---------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("SHOP_BROKER_URL", "amqp://guest:guest@127.0.0.1:5672//")
CELERY_TASK_DEFAULT_QUEUE = os.environ.get("SHOP_QUEUE", "shop")
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = "UTC"
CELERY_TASK_TIME_LIMIT = 60
CELERY_BEAT_SCHEDULE = {
    "nightly-sales-report": {
        "task": "orders.tasks.sales_report",
        "schedule": crontab(hour=3, minute=0),
    },
    "cancel-unpaid-orders": {
        "task": "orders.tasks.cancel_unpaid",
        "schedule": timedelta(minutes=15),
        "args": (24,),
    },
}
