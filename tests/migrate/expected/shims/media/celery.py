from lexigram_compat.celery import Celery, Task


class LoggingTask(Task):
    def on_failure(self, exc, task_id, args, kwargs, einfo):
        print("failed", task_id, exc)


app = Celery("media", broker="redis://localhost:6379/6")
