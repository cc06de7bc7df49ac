"""The chaos app, built at import for a native worker subprocess
(``lexigram-compat worker tests.chaos.worker_app:app``, ``dramatiq tests.chaos.worker_app``,
``celery -A tests.chaos.worker_app:celery_app worker``) from the section the
scenario hands it (``tests/conformance/apps.py``'s variables), with the chaos task only."""

from __future__ import annotations

import json
import os

from tests.conformance.apps import RECORDER_ENV, SECTION_ENV, build_app

from .jobs import registry, track_attempts

app = build_app(json.loads(os.environ[SECTION_ENV]), os.environ[RECORDER_ENV], tasks=registry)
track_attempts(app)
celery_app = app.native
