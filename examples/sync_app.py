"""A sync application (the shape most Celery codebases have) on the memory engine.

No ``async`` in the application code: the app runs its event loop in a
background thread (``start_sync``), views enqueue with ``enqueue_sync``, and a
plain ``def`` task runs in a worker thread. Run: ``.venv/bin/python examples/sync_app.py``.
"""

from __future__ import annotations

import threading

from lexigram_compat import JobStatus, Priority, TaskRegistry, TasksApp, task

registry = TaskRegistry()
invoices: dict[int, str] = {}
lock = threading.Lock()


@task(registry=registry, priority=Priority.HIGH, timeout=30)
def render_invoice(order_id: int, customer: str) -> str:
    """CPU-bound, blocking work: a plain function, run in a worker thread."""
    text = f"invoice #{order_id} for {customer}"
    with lock:
        invoices[order_id] = text
    return text


def checkout_view(app: TasksApp, order_id: int, customer: str) -> str:
    """What a Django/Flask view would do: enqueue and return at once."""
    return app.queue.enqueue_sync(render_invoice(order_id, customer)).unwrap()


def main() -> None:
    app = TasksApp.from_dict({"tasks": {"backend": {"type": "memory"}}}, registry=registry)
    app.start_sync()
    try:
        job_ids = [checkout_view(app, n, f"customer-{n}") for n in range(1, 4)]
        print(f"enqueued {len(job_ids)} invoice jobs from sync code")
        # In production a separate `lexigram-compat worker` process runs the jobs;
        # with the in-process memory engine we run the worker on the app's loop.
        processed = app.run_worker_sync(until_idle=True)
        infos = [app.queue.get_job_sync(job_id) for job_id in job_ids]
        assert all(i is not None and i.status is JobStatus.COMPLETED for i in infos), infos
        print(f"worker ran {processed} attempts; invoices: {sorted(invoices.values())}")
    finally:
        app.close_sync()


if __name__ == "__main__":
    main()
