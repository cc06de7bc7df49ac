from lexigram_compat.celery import Celery
from lexigram_compat import default_registry

app = Celery("publishing", registry=default_registry)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
