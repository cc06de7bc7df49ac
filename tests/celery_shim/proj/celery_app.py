"""proj/celery.py, as a Django project writes it (only the import swapped)."""

from lexigram_compat.celery import Celery

app = Celery("shim")
app.config_from_object("tests.celery_shim.proj.settings", namespace="CELERY")
