"""Imported only through ``Celery(include=[...])`` in ``test_shim.py``."""
