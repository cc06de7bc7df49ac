"""A Django-style project of Celery task modules, written against ``celery``.

The corpus harness materialises it as the top-level package ``proj`` (for the shim:
with ``from celery ...``/``import celery`` lines swapped to ``lexigram_compat.celery``)."""
