from celery import shared_task
from django.conf import settings


@shared_task(queue=settings.HELPDESK_QUEUE)
def close_stale_tickets():
    return 0


@shared_task(queue=settings.HELPDESK_QUEUE, ignore_result=True)
def assign_ticket(ticket_id):
    return ticket_id


@shared_task(bind=True, max_retries=3)
def send_ticket_reply(self, ticket_id, body):
    try:
        return len(body)
    except ConnectionError as exc:
        raise self.retry(exc=exc, countdown=20)


@shared_task(autoretry_for=(ConnectionError,), retry_backoff=True)
def sync_ticket_to_crm(ticket_id):
    return ticket_id
