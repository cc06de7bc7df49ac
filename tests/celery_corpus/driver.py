"""The calling side of one corpus run: ``python -m tests.celery_corpus.driver OUT [--memory-worker]``.

Run in a subprocess with the materialised ``proj`` first on ``PYTHONPATH`` (real
Celery's or the shim's: this file never imports either directly). It imports every
corpus module (``CORPUS_MODULES``), calls each module's ``scenario()``, waits until
the calls have settled (every result ready and the sink quiet, or the sink quiet
for longer: a result Celery does not keep never becomes ready), then writes each
returned handle's final state and value, and every sink event, to ``OUT`` as JSON.

``--memory-worker``: the memory engine's native worker is the app's own, in this
process: it runs on a thread while the scenarios call.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import Any

from .sink import KEY_ENV, URL_ENV, read_events

__all__ = ["main", "outcome_of", "readable"]

QUIET = 3.0
"""Seconds without a new event after which a run whose results are all ready is settled
(longer than any countdown between two events of the corpus)."""
QUIET_UNREADY = 6.0
"""Seconds without a new event after which a run is settled although some result is not
ready (one Celery keeps no result for: ``ignore_result``)."""
DEADLINE = 150.0


def failure_of(error: BaseException, job_id: str) -> list[Any]:
    """``[exception class name, message]`` of a failed job, the job id in the message
    replaced by ``<id>``. The shim's ``.get()`` raises ``TaskFailedError`` naming the
    dead letter's class and message (a documented difference, docs/engines/celery.md
    "Results"); real Celery re-raises the task's own class: both are read as that class."""
    error_type = getattr(error, "error_type", None)
    message: str | None
    if isinstance(error_type, str) and hasattr(error, "message"):
        name, message = error_type.rsplit(".", 1)[-1], str(error.message)
    else:
        name, message = type(error).__name__, (str(error) if error.args else None)
    return [name, message.replace(job_id, "<id>") if message is not None else None]


def outcome_of(handle: Any) -> list[Any]:
    """``[state, value]`` of what a scenario returned: a result handle, or a plain value."""
    if not hasattr(handle, "ready") or not hasattr(handle, "id"):
        return ["VALUE", handle]
    state = handle.state
    if state == "SUCCESS":
        return [state, handle.result]
    if state == "FAILURE":
        return [state, failure_of(handle.result, handle.id)]
    return [state, None]


def readable(app: Any, handle: Any) -> Any:
    """What a scenario returned, as a handle read like every other: a neutral enqueue's
    ``Result`` (the converted corpus: ``enqueue_sync`` returns ``Ok(job id)`` where
    ``.delay`` returned an ``AsyncResult``) becomes the app's ``AsyncResult`` of that job id,
    so its state and value are read from the job record exactly as the shim's handles are.
    An ``Err`` raises here: the enqueue failed, and the scenario fails with it."""
    if hasattr(handle, "is_ok") and hasattr(handle, "unwrap") and not hasattr(handle, "ready"):
        return app.AsyncResult(handle.unwrap())
    return handle


def _expectations(module: Any) -> dict[str, Any]:
    """The module's own description of what should happen (the same source on every run)."""
    return {
        "EXPECT": {k: list(v) for k, v in module.EXPECT.items()},
        "ATTEMPTS": dict(module.ATTEMPTS),
        "DELAYS": {k: [list(b) for b in v] for k, v in getattr(module, "DELAYS", {}).items()},
        "WORKER_EVENTS": {k: sorted(v) for k, v in getattr(module, "WORKER_EVENTS", {}).items()},
        "SPANS": {k: list(v) for k, v in getattr(module, "SPANS", {}).items()},
    }


def _settle(handles: list[Any], url: str, key: str) -> None:
    seen, last_change, start = -1, time.monotonic(), time.monotonic()
    while time.monotonic() - start < DEADLINE:
        count = len(read_events(url, key))
        now = time.monotonic()
        if count != seen:
            seen, last_change = count, now
        quiet = now - last_change
        if quiet >= QUIET_UNREADY:
            return
        if quiet >= QUIET and all(h.ready() for h in handles):
            return
        time.sleep(0.25)
    raise SystemExit(f"the corpus run did not settle within {DEADLINE}s")


def main(argv: list[str]) -> int:
    out = Path(argv[0])
    memory_worker = "--memory-worker" in argv[1:]
    app = importlib.import_module("proj.celery").app
    names = os.environ["CORPUS_MODULES"].split(",")
    modules = {name: importlib.import_module(f"proj.{name}") for name in names}
    worker: threading.Thread | None = None
    if memory_worker:
        tasks_app = app.tasks_app
        app.queue_handle()  # starts the lexigram app on its background loop
        worker = threading.Thread(target=tasks_app.run_worker_sync, kwargs={"scheduler": False}, daemon=True)
        worker.start()
    handles: dict[str, dict[str, Any]] = {}
    errors: dict[str, str] = {}
    for name, module in modules.items():
        try:
            handles[name] = {key: readable(app, h) for key, h in dict(module.scenario()).items()}
        except Exception:
            errors[name] = traceback.format_exc()
    pending = [h for hs in handles.values() for h in hs.values() if hasattr(h, "ready")]
    _settle(pending, os.environ[URL_ENV], os.environ[KEY_ENV])
    report = {
        "modules": {
            name: {
                "handles": {key: outcome_of(h) for key, h in handles.get(name, {}).items()},
                "error": errors.get(name),
                "expect": _expectations(modules[name]),
            }
            for name in names
        },
        "events": read_events(os.environ[URL_ENV], os.environ[KEY_ENV]),
        "app_class": f"{type(app).__module__}.{type(app).__qualname__}",
    }
    out.write_text(json.dumps(report, default=repr, sort_keys=True))
    if worker is not None:
        loop = app.tasks_app.loop
        loop.call_soon_threadsafe(app.tasks_app.stop_worker)
        worker.join(timeout=10)
    if hasattr(app, "tasks_app"):  # the shim's app: close the lexigram app it started
        app.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
