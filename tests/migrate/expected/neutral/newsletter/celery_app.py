from lexigram_compat.celery import Celery
from lexigram_compat import default_registry

app = Celery(
    "newsletter",
    broker="redis://localhost:6379/3",
    backend="redis://localhost:6379/4",
    include=["newsletter.campaigns.tasks", "newsletter.subscribers.tasks"],
registry=default_registry)
app.conf.update(task_acks_late=True, worker_prefetch_multiplier=1)
