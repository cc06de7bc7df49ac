from lexigram_compat.celery import Celery

from accounts.base import AuditedTask

app = Celery("accounts", task_cls=AuditedTask)  # LEFT
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
