from celery import shared_task, states
from celery.exceptions import Ignore, Reject  # LEFT


@shared_task(bind=True, acks_late=False)  # LEFT
def heartbeat(self):
    return states.SUCCESS


@shared_task
def ping(host):
    if not host:
        raise Reject("no host", requeue=False)
    return host
