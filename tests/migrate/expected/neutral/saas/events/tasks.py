from logging import getLogger as get_task_logger
from lexigram_compat import JobContext, RetryPolicy, task

logger = get_task_logger(__name__)


@task(retry=RetryPolicy(max_attempts=1))
def send_ticket(registration_id):
    logger.info("ticket %s", registration_id)


@task(queue="mail", retry=RetryPolicy(max_attempts=1))
def send_reminder(event_id, hours_before):
    return hours_before


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=2.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(OSError,),
    ),
)
def generate_badge(registration_id, *, ctx: JobContext):
    logger.info("badge %s (job %s)", registration_id, ctx.job_id)


@task(retry=RetryPolicy(max_attempts=1))
def checkin(registration_id, gate):
    return gate


@task(queue="reports", timeout=600, retry=RetryPolicy(max_attempts=1))
def attendance_report(event_id):
    return event_id


@task(retry=RetryPolicy(max_attempts=1))
def release_unpaid_seats(event_id):
    return event_id


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=60.0,
        backoff_factor=1.0,
        max_delay=60.0,
        jitter=False,
        retry_on=(ConnectionError,),
    ),
)
def sync_calendar(event_id, provider):
    return provider
