from celery import shared_task


@shared_task(queue="moderation", ignore_result=True)
def check_spam(post_id):
    return post_id


@shared_task
def notify_subscribers(thread_id, post_id):
    return [thread_id, post_id]


@shared_task(bind=True, max_retries=5)
def send_digest(self, user_id):
    try:
        return user_id
    except ConnectionRefusedError as exc:
        raise self.retry(exc=exc, countdown=60 * (self.request.retries + 1))


@shared_task(rate_limit="1/s")
def reindex_thread(thread_id):
    return thread_id


@shared_task(time_limit=20)
def render_markdown(post_id):
    return post_id


@shared_task(priority=1)
def recount_reputation(user_id):
    return user_id
