"""proj/celery.py as a Django project writes it."""

import json
import os

from celery import Celery

app = Celery("proj", include=[f"proj.{name}" for name in os.environ["CORPUS_MODULES"].split(",")])
app.config_from_object("proj.settings", namespace="CELERY")
app.conf.update(json.loads(os.environ["CORPUS_SETTINGS"]))
