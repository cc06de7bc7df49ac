"""A Django-style settings module read with ``config_from_object(..., namespace="CELERY")``."""

CELERY_BROKER_URL = "memory://"
CELERY_RESULT_BACKEND = "redis://unused"  # accepted: results live in the engine's job records
CELERY_TASK_ACKS_LATE = True
CELERY_TIMEZONE = "UTC"
INSTALLED_APPS = ["tests.celery_shim"]  # not in the namespace: not read
