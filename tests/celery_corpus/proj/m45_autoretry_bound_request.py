"""A bound autoretry task reads self.request.retries and kwargs on each attempt."""

from tests.celery_corpus.sink import record

from .celery import app

M = __name__.rsplit(".", 1)[-1]


@app.task(bind=True, autoretry_for=(OSError,), max_retries=2, default_retry_delay=1)
def upload(self, tag, path):
    record(tag, "run", retries=self.request.retries, kwargs=self.request.kwargs)
    if self.request.retries == 0:
        raise OSError(f"{path}: disk busy")
    return f"uploaded {path}"


def scenario():
    return {"a": upload.apply_async(kwargs={"tag": f"{M}/a", "path": "/tmp/x"})}


EXPECT = {"a": ("SUCCESS", "uploaded /tmp/x")}
ATTEMPTS = {"a": 2}
DELAYS = {"a": [(1.0, 1.0)]}
