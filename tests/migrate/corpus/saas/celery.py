"""The SaaS monolith's Celery app (a Django project with many apps)."""
import os

from celery import Celery
from celery.signals import setup_logging # LEFT

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

app = Celery("saas")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_logging(**kwargs):
    pass
