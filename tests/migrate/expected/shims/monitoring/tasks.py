from lexigram_compat.celery import shared_task, states
from lexigram_compat.celery.exceptions import Reject  # LEFT
from celery.exceptions import Ignore


@shared_task(bind=True, acks_late=False)  # LEFT
def heartbeat(self):
    return states.SUCCESS


@shared_task
def ping(host):
    if not host:
        raise Reject("no host", requeue=False)
    return host
