"""A small project whose converted forms are run on the memory engine by the tests."""
from celery import Celery

app = Celery("runnable", broker="memory://")
app.conf.task_default_queue = "runnable"
