"""Custom headers stay visible to the task on every retry of the job."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, max_retries=1)
def tenant_retry(self, tag):
    tenant = self.request.get("tenant")
    record(tag, "run", retries=self.request.retries, tenant=tenant)
    if self.request.retries == 0:
        raise self.retry(countdown=0.5)
    return tenant


def scenario():
    return {"a": tenant_retry.apply_async((f"{M}/a",), headers={"tenant": "globex"})}


EXPECT = {"a": ("SUCCESS", "globex")}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(0.5, 0.5)]}
