"""Reminders: constructs found by running the converted Celery corpus (tests/celery_corpus)."""

import functools
import logging

from lexigram_compat.celery import shared_task

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


@shared_task(bind=True, autoretry_for=(ConnectionError,), max_retries=3, default_retry_delay=5)
def deliver(self, user_id, **options):
    payload = self.request.kwargs
    payload["attempt"] = self.request.retries
    log.info("delivering %s", payload)
    return user_id


@shared_task  # LEFT
def digest(user_id, period="daily"):
    return f"{period} digest for {user_id}"


def schedule_reminders(user_ids):
    for user_id in user_ids:
        remind.delay(user_id)  # LEFT
        deliver.delay(user_id, priority="high")
    digest.s(period="weekly").delay(user_ids[0])  # LEFT
    digest.si(user_ids[-1]).set(countdown=60).delay()  # LEFT
