from celery import shared_task


@shared_task(max_retry=3)  # LEFT
def deactivate_stale_accounts():
    return 0


@shared_task(ignore_results=True)  # LEFT
def record_login(user_id, ip):
    return ip


@shared_task(name="accounts.send_password_reset", queue="mail", max_retries=3, default_retry_delay=10, autoretry_for=(OSError,))
def send_password_reset(user_id, token):
    return token


@shared_task(time_limit=30, priority=9)
def verify_email(user_id, token):
    return token


@shared_task(retry_backoff=True, autoretry_for=(Exception,), max_retries=5)
def sync_avatar(user_id, url):
    return url
