from lexigram_compat.celery import Celery
from lexigram_compat import default_registry

app = Celery("pipeline", registry=default_registry)
app.config_from_object("pipeline.celeryconfig")
