"""Reminders: constructs found by running the converted Celery corpus (tests/celery_corpus)."""

import functools
import logging

from lexigram_compat.celery import shared_task, current_app
from lexigram_compat import JobContext, RetryPolicy, task

log = logging.getLogger(__name__)


def traced(fn):
    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        log.info("running %s", self.name)
        return fn(self, *args, **kwargs)

    return wrapper


@shared_task(bind=True, max_retries=2)  # LEFT
@traced
def remind(self, user_id, channel="email"):
    log.info("reminding %s by %s (retry %s)", user_id, channel, self.request.retries)
    return user_id


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=5.0,
        backoff_factor=1.0,
        max_delay=5.0,
        jitter=False,
        retry_on=(ConnectionError,),
    ),
)
def deliver(user_id, *, ctx: JobContext, **options):
    payload = dict(ctx.kwargs)
    payload["attempt"] = ctx.retries
    log.info("delivering %s", payload)
    return user_id


@shared_task  # LEFT
def digest(user_id, period="daily"):
    return f"{period} digest for {user_id}"


def schedule_reminders(user_ids):
    for user_id in user_ids:
        remind.delay(user_id)  # LEFT
        current_app().queue_handle().enqueue_sync(deliver(user_id, priority="high"))
    digest.s(period="weekly").delay(user_ids[0])  # LEFT
    digest.si(user_ids[-1]).set(countdown=60).delay()  # LEFT
