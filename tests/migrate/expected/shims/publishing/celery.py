from lexigram_compat.celery import Celery

app = Celery("publishing")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
