"""The SaaS monolith's Celery app (a Django project with many apps)."""
import os

from lexigram_compat.celery import Celery
from celery.signals import setup_logging # LEFT
from lexigram_compat import default_registry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "saas.settings")

app = Celery("saas", registry=default_registry)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@setup_logging.connect
def configure_logging(**kwargs):
    pass
