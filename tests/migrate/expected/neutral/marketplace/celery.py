import os

from lexigram_compat.celery import Celery
from lexigram_compat import default_registry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "marketplace.settings")

app = Celery("marketplace", registry=default_registry)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
