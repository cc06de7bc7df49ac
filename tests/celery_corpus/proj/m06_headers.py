"""apply_async(headers=...): the custom headers reach the task (self.request)."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True)
def tenant_job(self, tag):
    tenant = getattr(self.request, "tenant", None)
    record(tag, "run", tenant=tenant, headers=self.request.headers)
    return tenant


def scenario():
    return {"a": tenant_job.apply_async((f"{M}/a",), headers={"tenant": "acme"})}


EXPECT = {"a": ("SUCCESS", "acme")}
ATTEMPTS = {"a": 1}
