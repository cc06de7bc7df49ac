# This will make sure the Celery app is always imported when Django starts,
# so that @shared_task uses it.
from .celery import app as celery_app

__all__ = ("celery_app",)
