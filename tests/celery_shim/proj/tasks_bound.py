"""``bind=True`` tasks: ``self.request`` reads and ``self.retry(exc=, countdown=)``."""

from lexigram_compat.celery import shared_task

from .celery_app import app


class UpstreamError(Exception):
    pass


@app.task(bind=True)
def whoami(self, note: str) -> dict:
    return {
        "id": self.request.id,
        "retries": self.request.retries,
        "args": list(self.request.args),
        "kwargs": self.request.kwargs,
        "headers": self.request.headers,
        "queue": self.request.delivery_info.get("routing_key"),
        "name": self.name,
    }


@app.task(bind=True, max_retries=3)
def flaky(self, succeed_after: int) -> int:
    try:
        if self.request.retries < succeed_after:
            raise UpstreamError(f"retry {self.request.retries}: upstream down")
    except UpstreamError as exc:
        raise self.retry(exc=exc, countdown=0.05)
    return self.request.retries


@shared_task(bind=True, max_retries=2)
def gives_up(self, key: str) -> None:
    try:
        raise UpstreamError(f"{key}: still down")
    except UpstreamError as exc:
        raise self.retry(exc=exc, countdown=0.05)


@app.task(bind=True, max_retries=1, default_retry_delay=0.05)
def retries_without_exc(self) -> None:
    raise self.retry()
