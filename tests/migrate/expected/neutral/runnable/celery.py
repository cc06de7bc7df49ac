"""A small project whose converted forms are run on the memory engine by the tests."""
from lexigram_compat.celery import Celery
from lexigram_compat import default_registry

app = Celery("runnable", broker="memory://", registry=default_registry)
app.conf.task_default_queue = "runnable"
