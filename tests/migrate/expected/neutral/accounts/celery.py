from lexigram_compat.celery import Celery

from accounts.base import AuditedTask
from lexigram_compat import default_registry

app = Celery("accounts", task_cls=AuditedTask, registry=default_registry)  # LEFT
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
