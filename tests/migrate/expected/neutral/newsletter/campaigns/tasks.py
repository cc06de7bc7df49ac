"""Sending campaigns: one job per batch of recipients."""
import functools
import time

from lexigram_compat.celery.exceptions import SoftTimeLimitExceeded

from newsletter.celery_app import app
from lexigram_compat import JobContext, RetryPolicy, task
from lexigram_compat.celery import current_app


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            print(fn.__name__, time.monotonic() - started)

    return wrapper


@task(queue="bulk", compression="zlib", retry=RetryPolicy(max_attempts=1))
@timed
def send_batch(campaign_id, recipient_ids):
    return len(recipient_ids)


@task(timeout=330, soft_timeout=300.0, retry=RetryPolicy(max_attempts=1))
def render_campaign(campaign_id):
    try:
        return f"<html>{campaign_id}</html>"
    except SoftTimeLimitExceeded:
        return None


@task(expires=600, retry=RetryPolicy(max_attempts=1))
def send_preview(campaign_id, email):
    return email


@task(
    retry=RetryPolicy(
        max_attempts=7,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter=False,
        retry_on=(IOError,),
    ),
)
def upload_assets(campaign_id, *, ctx: JobContext):
    print("uploading", campaign_id, "attempt", ctx.retries + 1, "of", (ctx.max_attempts - 1) + 1)


def launch(campaign, recipients, batch_size=500):
    current_app().queue_handle().enqueue_sync(render_campaign(campaign.id))
    for start in range(0, len(recipients), batch_size):
        batch = [r.id for r in recipients[start : start + batch_size]]
        current_app().queue_handle().enqueue_sync(send_batch(campaign.id, batch), queue="bulk", compression="zlib")
    upload_assets.apply_async((campaign.id,), link=send_preview.si(campaign.id, "qa@example.com"))  # LEFT
    current_app().queue_handle().enqueue_sync(send_preview(campaign.id, "boss@example.com"), expires=300)
