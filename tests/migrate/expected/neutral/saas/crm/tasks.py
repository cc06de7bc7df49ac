from django.conf import settings
from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task


@task(queue=settings.CRM_QUEUE, retry=RetryPolicy(max_attempts=1))
def sync_contact(contact_id):
    return contact_id


@task(queue=settings.CRM_QUEUE, retry=RetryPolicy(max_attempts=1))
def merge_duplicates(contact_ids):
    return sorted(contact_ids)


@task(
    retry=RetryPolicy(
        max_attempts=5,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=90.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def push_to_salesforce(contact_id, fields):
    return fields


@task(
    retry=RetryPolicy(
        max_attempts=3,
        base_delay=15.0,
        backoff_factor=1.0,
        max_delay=15.0,
        jitter=False,
        retry_on=(),
    ),
)
def enrich_contact(contact_id, provider="clearbit", *, ctx: JobContext):
    try:
        return {"contact": contact_id, "provider": provider, "attempt": ctx.retries}
    except TimeoutError as exc:
        raise Retry(exc=exc)


@task(timeout=300, retry=RetryPolicy(max_attempts=1))
def export_contacts(account_id, fmt="csv"):
    return f"{account_id}.{fmt}"


@scheduled(cron="*/30 * * * *", name="score-leads", args=(0,))
@task(retry=RetryPolicy(max_attempts=1))
def score_lead(lead_id):
    return 50


@task(retry=RetryPolicy(max_attempts=1))
def log_activity(contact_id, kind, payload=None):
    return kind


@task(queue="crm-urgent", priority=8, retry=RetryPolicy(max_attempts=1))
def alert_owner(contact_id, message):
    return message
