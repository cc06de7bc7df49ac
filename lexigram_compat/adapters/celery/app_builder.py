"""The ``celery.Celery`` app built from the ``tasks:`` config (``app.native``).

Delivery is ack-late with reject-on-worker-lost (a worker killed mid-job loses
nothing), JSON only, one reserved message per pool slot. Job records live in the
shared Redis job ledger; for the Celery deployment beside it, remote control is
on (``celery inspect``, Flower's worker list), and when ``extra.celery.settings``
names a ``result_backend`` the workers store each job's result or failure there
in Celery's format (old ``AsyncResult(id).get()`` callers read it) and the engine
reads it for the jobs an unmodified Celery worker ran (:mod:`.foreign_results`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from celery import Celery

from lexigram_compat.adapters.celery.settings import CelerySettings

if TYPE_CHECKING:
    from lexigram_compat.config import BackendConfig, TaskConfig

__all__ = ["CONSUMER", "FacadeCelery", "broker_url", "build_celery_app"]

GUARDED_TRANSPORT = "lexigram_compat.adapters.celery.guarded_redis:Transport"

CONSUMER = "lexigram_compat.adapters.celery.consumer:DeadLetteringConsumer"


class FacadeCelery(Celery):  # type: ignore[misc]
    """The engine's Celery app: Celery's, except that sending a job never subscribes
    to its result. Celery's Redis result backend subscribes the sender to each sent
    task's result channel (``on_task_call``) for a ``.get()`` that the facade never
    makes (it reads its job ledger): the subscriptions would pile up undrained, and
    every enqueue would need the result backend to be reachable. ``AsyncResult.get()``
    still works: it subscribes when it waits, and reads results already stored."""

    def _get_backend(self) -> Any:
        backend = super()._get_backend()
        backend.on_task_call = _no_result_subscription
        return backend


def _no_result_subscription(producer: Any, task_id: str) -> None:
    """Sending a job subscribes to nothing (see :class:`FacadeCelery`)."""


def broker_url(backend: BackendConfig) -> str:
    """The broker URL (a secret: never log it unredacted)."""
    url = backend.redis_url if backend.type == "redis" else backend.amqp_url
    return url.get_secret_value()


def build_celery_app(config: TaskConfig, backend: BackendConfig, settings: CelerySettings) -> Celery:
    """A Celery app for ``backend`` whose settings carry the engine's delivery guarantees."""
    transport: dict[str, Any] = {}
    if backend.type == "redis":
        transport["visibility_timeout"] = settings.visibility_timeout
        # The BRPOP timeout: how long an idle worker takes to notice a stop.
        transport["polling_interval"] = config.worker.poll_interval
    else:
        transport["confirm_publish"] = True  # publisher confirms: a lost publish is an Err
    transport.update(settings.transport_options)
    app = FacadeCelery("lexigram_compat", broker=broker_url(backend), set_as_current=False)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        result_backend=None,
        task_ignore_result=True,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        task_default_queue=backend.queue_name,
        task_create_missing_queues=True,
        worker_prefetch_multiplier=1,
        worker_concurrency=config.worker.max_concurrent_tasks,
        worker_pool=settings.pool,
        worker_enable_remote_control=True,  # celery inspect / Flower see facade workers
        worker_consumer=CONSUMER,
        worker_hijack_root_logger=False,
        worker_redirect_stdouts=False,
        broker_connection_retry_on_startup=True,
        broker_connection_timeout=4.0,
        broker_transport_options=transport,
        timezone="UTC",
        enable_utc=True,
    )
    if backend.type == "redis":
        app.conf.visibility_timeout = settings.visibility_timeout
        if broker_url(backend).split("://", 1)[0].lower() in ("redis", "unix"):
            app.conf.broker_transport = GUARDED_TRANSPORT  # see guarded_redis (issue 13)
    app.conf.update(dict(settings.settings))
    if app.conf.result_backend and "task_ignore_result" not in settings.settings:
        app.conf.task_ignore_result = False  # a backend was named to keep results: keep them
    return app
