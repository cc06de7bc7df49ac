from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task


@task(queue="moderation", retry=RetryPolicy(max_attempts=1))
def check_spam(post_id):
    return post_id


@task(retry=RetryPolicy(max_attempts=1))
def notify_subscribers(thread_id, post_id):
    return [thread_id, post_id]


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def send_digest(user_id, *, ctx: JobContext):
    try:
        return user_id
    except ConnectionRefusedError as exc:
        raise Retry(exc=exc, delay=60 * (ctx.retries + 1))


@task(rate_limit="1/s", retry=RetryPolicy(max_attempts=1))
def reindex_thread(thread_id):
    return thread_id


@task(timeout=20, retry=RetryPolicy(max_attempts=1))
def render_markdown(post_id):
    return post_id


@scheduled(every=3600, name="forum-reputation", args=(0,))
@task(priority=1, retry=RetryPolicy(max_attempts=1))
def recount_reputation(user_id):
    return user_id
