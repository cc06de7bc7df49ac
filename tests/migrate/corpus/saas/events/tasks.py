from celery import shared_task
from celery.utils.log import get_task_logger

logger = get_task_logger(__name__)


@shared_task
def send_ticket(registration_id):
    logger.info("ticket %s", registration_id)


@shared_task(queue="mail")
def send_reminder(event_id, hours_before):
    return hours_before


@shared_task(bind=True, autoretry_for=(OSError,), retry_backoff=2, max_retries=5)
def generate_badge(self, registration_id):
    logger.info("badge %s (job %s)", registration_id, self.request.id)


@shared_task(ignore_result=True, acks_late=True)
def checkin(registration_id, gate):
    return gate


@shared_task(time_limit=600, queue="reports")
def attendance_report(event_id):
    return event_id


@shared_task
def release_unpaid_seats(event_id):
    return event_id


@shared_task(max_retries=3, default_retry_delay=60, autoretry_for=(ConnectionError,))
def sync_calendar(event_id, provider):
    return provider
