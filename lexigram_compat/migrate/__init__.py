"""``lexigram-compat migrate celery``: a libcst codemod that moves a Celery codebase to the
shim (``--to shims``) or to the neutral API (``--to neutral``), and reports what it left."""

from __future__ import annotations

__all__: list[str] = []
