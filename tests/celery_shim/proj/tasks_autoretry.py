"""``autoretry_for`` with ``retry_kwargs``, ``dont_autoretry_for`` and ``retry_backoff``."""

from .celery_app import app


@app.task(bind=True, autoretry_for=(ConnectionError,), retry_kwargs={"countdown": 0.05, "max_retries": 2})
def fetch(self, fail_times: int) -> int:
    if self.request.retries < fail_times:
        raise ConnectionError(f"attempt {self.request.retries + 1}: connection refused")
    return self.request.retries + 1


@app.task(autoretry_for=(OSError,), dont_autoretry_for=(PermissionError,), retry_kwargs={"countdown": 0.05})
def guarded(kind: str) -> None:
    raise PermissionError("no access") if kind == "permission" else OSError("disk busy")


@app.task(bind=True, autoretry_for=(TimeoutError,), retry_backoff=True, retry_jitter=False, max_retries=1)
def backs_off(self) -> int:
    if self.request.retries == 0:
        raise TimeoutError("slow upstream")
    return self.request.retries
