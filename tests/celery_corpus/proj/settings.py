"""Django-style settings read with ``config_from_object(..., namespace="CELERY")``;
what differs per run (broker, result backend, engine) comes from the environment."""

CELERY_TASK_DEFAULT_QUEUE = "corpus"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ACKS_LATE = True
REPORTS_QUEUE = "corpus-reports"  # not in the namespace: read by tasks as settings.REPORTS_QUEUE
