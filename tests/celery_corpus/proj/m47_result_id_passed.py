"""The returned result's .id is read and handed to another task, which reads it back
with AsyncResult(id) once the first is done."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task
def produce(tag):
    record(tag, "run")
    return "payload"


@app.task(bind=True, max_retries=10)
def consume(self, tag, produced_id):
    result = app.AsyncResult(produced_id)
    if not result.ready():  # how often it polls depends on timing: not recorded
        raise self.retry(countdown=0.5)
    record(tag, "run", state=result.state)
    return result.result  # never result.get() inside a task (Celery refuses it)


def scenario():
    produced = produce.delay(f"{M}/produce")
    return {"produce": produced, "consume": consume.apply_async((f"{M}/consume", produced.id), countdown=1)}


EXPECT = {"produce": ("SUCCESS", "payload"), "consume": ("SUCCESS", "payload")}
ATTEMPTS = {"produce": 1, "consume": 1}
