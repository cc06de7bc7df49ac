from lexigram_compat.celery import Celery, Task
from lexigram_compat import default_registry


class LoggingTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        print("failed", task_id, exc)


app = Celery("media", broker="redis://localhost:6379/6", registry=default_registry)
