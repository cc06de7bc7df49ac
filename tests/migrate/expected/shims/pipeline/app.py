from lexigram_compat.celery import Celery

app = Celery("pipeline")
app.config_from_object("pipeline.celeryconfig")
