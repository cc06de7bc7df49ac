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
    "expire-carts": {
        "task": "storefront.orders.tasks.expire_abandoned_carts",
        "schedule": crontab(minute="*/15"),
    },
    "rebuild-search-index": {
        "task": "storefront.catalog.tasks.rebuild_search_index",
        "schedule": crontab(hour=3, minute=30),
        "kwargs": {"full": True},
        "options": {"queue": "search"},
    },
    "nightly-sales-report": {
        "task": "storefront.orders.tasks.email_sales_report",
        "schedule": crontab(hour=6, minute=0, day_of_week="mon-fri"),
        "args": ("sales@example.com",),
    },
}
