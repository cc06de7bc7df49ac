from lexigram_compat.celery import shared_task
from django.conf import settings


@shared_task(queue=settings.CRM_QUEUE)
def sync_contact(contact_id):
    return contact_id


@shared_task(queue=settings.CRM_QUEUE, ignore_result=True)
def merge_duplicates(contact_ids):
    return sorted(contact_ids)


@shared_task(autoretry_for=(ConnectionError,), max_retries=4, retry_backoff=True, retry_backoff_max=90)
def push_to_salesforce(contact_id, fields):
    return fields


@shared_task(bind=True, max_retries=2, default_retry_delay=15)
def enrich_contact(self, contact_id, provider="clearbit"):
    try:
        return {"contact": contact_id, "provider": provider, "attempt": self.request.retries}
    except TimeoutError as exc:
        raise self.retry(exc=exc)


@shared_task(time_limit=300)
def export_contacts(account_id, fmt="csv"):
    return f"{account_id}.{fmt}"


@shared_task
def score_lead(lead_id):
    return 50


@shared_task(ignore_result=True)
def log_activity(contact_id, kind, payload=None):
    return kind


@shared_task(priority=8, queue="crm-urgent")
def alert_owner(contact_id, message):
    return message
