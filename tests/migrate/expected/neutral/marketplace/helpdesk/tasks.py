from django.conf import settings
from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task


@scheduled(cron="0 */2 * * *", name="close-stale-tickets")
@task(queue=settings.HELPDESK_QUEUE, retry=RetryPolicy(max_attempts=1))
def close_stale_tickets():
    return 0


@task(queue=settings.HELPDESK_QUEUE, retry=RetryPolicy(max_attempts=1))
def assign_ticket(ticket_id):
    return ticket_id


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def send_ticket_reply(ticket_id, body):
    try:
        return len(body)
    except ConnectionError as exc:
        raise Retry(exc=exc, delay=20)


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def sync_ticket_to_crm(ticket_id):
    return ticket_id
