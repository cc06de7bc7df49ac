from py314.tasks import push
from lexigram_compat.celery import current_app


def on_event(event):
    try:
        current_app().queue_handle().enqueue_sync(push(event), delay=1)
    except RuntimeError, OSError:
        pass
