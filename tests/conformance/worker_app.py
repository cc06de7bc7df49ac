"""The conformance app, built at import for a worker subprocess.

The harness starts the engine's own worker with ``EngineHarness.worker_environ()``
and points it here, e.g. ``lexigram-compat worker tests.conformance.worker_app:app``,
``dramatiq tests.conformance.worker_app`` or (with ``celery_app = app.native``
added for the Celery engine) ``celery -A tests.conformance.worker_app:celery_app worker``.
Importing it without those variables is an error naming them.
"""

from __future__ import annotations

from .apps import app_from_environ
from .shim_jobs import shim_app

app = app_from_environ()
celery_app = app.native
shim_app.use(app)  # the Celery-style tasks enqueue (``.delay()`` in a task) through this app
