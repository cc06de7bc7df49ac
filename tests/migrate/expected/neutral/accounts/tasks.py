from lexigram_compat.celery import shared_task
from lexigram_compat import RetryPolicy, task


@shared_task(max_retry=3)  # LEFT
def deactivate_stale_accounts():
    return 0


@shared_task(ignore_results=True)  # LEFT
def record_login(user_id, ip):
    return ip


@task(
    name="accounts.send_password_reset",
    queue="mail",
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=10.0,
        backoff_factor=1.0,
        max_delay=10.0,
        jitter=False,
        retry_on=(OSError,),
    ),
)
def send_password_reset(user_id, token):
    return token


@task(priority=9, timeout=30, retry=RetryPolicy(max_attempts=1))
def verify_email(user_id, token):
    return token


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(Exception,),
    ),
)
def sync_avatar(user_id, url):
    return url
