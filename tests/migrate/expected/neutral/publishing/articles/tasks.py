from logging import getLogger as get_task_logger

from publishing.celery import app
from lexigram_compat import JobContext, Retry, RetryPolicy, task

logger = get_task_logger(__name__)


@task(retry=RetryPolicy(max_attempts=1))
def publish_article(article_id):
    logger.info("publishing %s", article_id)
    return article_id


@task(queue="render", timeout=60, retry=RetryPolicy(max_attempts=1))
def render_amp(article_id):
    return article_id


@task(queue="render", timeout=60, retry=RetryPolicy(max_attempts=1))
def render_rss(feed_id):
    return feed_id


@task(retry=RetryPolicy(max_attempts=1))
def ping_search_engines(url):
    return url


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=10.0,
        backoff_factor=1.0,
        max_delay=10.0,
        jitter=False,
        retry_on=(),
    ),
)
def push_to_cdn(article_id, paths, *, ctx: JobContext):
    try:
        return len(paths)
    except OSError as exc:
        raise Retry(exc=exc, delay=ctx.retries * 10)


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
def notify_social(article_id, network):
    return network


@task(retry=RetryPolicy(max_attempts=1))
def unpublish_article(article_id, reason=""):
    return reason


@task(priority=7, retry=RetryPolicy(max_attempts=1))
def breaking_news_alert(article_id):
    return article_id
