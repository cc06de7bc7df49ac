from lexigram_compat.celery import shared_task, states
from lexigram_compat.celery.exceptions import Reject  # LEFT
from celery.exceptions import Ignore
from lexigram_compat import RetryPolicy, task


@shared_task(bind=True, acks_late=False)  # LEFT
def heartbeat(self):
    return states.SUCCESS


@task(retry=RetryPolicy(max_attempts=1))
def ping(host):
    if not host:
        raise Reject("no host", requeue=False)
    return host
