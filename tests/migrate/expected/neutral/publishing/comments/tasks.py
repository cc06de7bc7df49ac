from publishing.celery import app
from lexigram_compat import JobContext, Retry, RetryPolicy, task


@task(queue="moderation", retry=RetryPolicy(max_attempts=1))
def moderate_comment(comment_id):
    return "ok"


@task(retry=RetryPolicy(max_attempts=1))
def notify_author(article_id, comment_id):
    return comment_id


@task(retry=RetryPolicy(max_attempts=1))
def notify_thread(comment_id):
    return comment_id


@task(
    retry=RetryPolicy(
        max_attempts=3,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def check_links(comment_id, urls):
    try:
        return urls
    except ConnectionError as exc:
        raise Retry(exc=exc, delay=30)


@task(retry=RetryPolicy(max_attempts=1))
def recount_comments(article_id):
    return article_id
