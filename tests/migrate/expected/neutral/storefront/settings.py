"""Django settings for storefront (the Celery part)."""

from lexigram_compat.celery.schedules import crontab

INSTALLED_APPS = [
    "django.contrib.contenttypes",
    "storefront.orders",
    "storefront.catalog",
]

CELERY_BROKER_URL = "redis://localhost:6379/0"
CELERY_RESULT_BACKEND = "redis://localhost:6379/1"
CELERY_TASK_SERIALIZER = "json"
CELERY_TIMEZONE = "UTC"

CELERY_BEAT_SCHEDULE = {
    
}
