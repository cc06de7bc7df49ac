"""Sending campaigns: one job per batch of recipients."""
import functools
import time

from lexigram_compat.celery.exceptions import SoftTimeLimitExceeded

from newsletter.celery_app import app


def timed(fn):
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        started = time.monotonic()
        try:
            return fn(*args, **kwargs)
        finally:
            print(fn.__name__, time.monotonic() - started)

    return wrapper


@app.task(compression="zlib", queue="bulk")
@timed
def send_batch(campaign_id, recipient_ids):
    return len(recipient_ids)


@app.task(soft_time_limit=300, time_limit=330)
def render_campaign(campaign_id):
    try:
        return f"<html>{campaign_id}</html>"
    except SoftTimeLimitExceeded:
        return None


@app.task(expires=600)
def send_preview(campaign_id, email):
    return email


@app.task(bind=True, autoretry_for=(IOError,), retry_backoff=True, retry_jitter=False, max_retries=6)
def upload_assets(self, campaign_id):
    print("uploading", campaign_id, "attempt", self.request.retries + 1, "of", self.max_retries + 1)


def launch(campaign, recipients, batch_size=500):
    render_campaign.delay(campaign.id)
    for start in range(0, len(recipients), batch_size):
        batch = [r.id for r in recipients[start : start + batch_size]]
        send_batch.apply_async(args=(campaign.id, batch), queue="bulk", compression="zlib")
    upload_assets.apply_async((campaign.id,), link=send_preview.si(campaign.id, "qa@example.com"))  # LEFT
    send_preview.apply_async((campaign.id, "boss@example.com"), expires=300)
