INSTALLED_APPS = [
    "django_celery_beat",  # LEFT
    "scheduler_db.reports",
]
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"  # LEFT
