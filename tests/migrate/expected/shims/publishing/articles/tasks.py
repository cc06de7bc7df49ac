from logging import getLogger as get_task_logger

from publishing.celery import app

logger = get_task_logger(__name__)


@app.task
def publish_article(article_id):
    logger.info("publishing %s", article_id)
    return article_id


@app.task(queue="render", time_limit=60)
def render_amp(article_id):
    return article_id


@app.task(queue="render", time_limit=60)
def render_rss(feed_id):
    return feed_id


@app.task(ignore_result=True)
def ping_search_engines(url):
    return url


@app.task(bind=True, max_retries=5, default_retry_delay=10)
def push_to_cdn(self, article_id, paths):
    try:
        return len(paths)
    except OSError as exc:
        raise self.retry(exc=exc, countdown=self.request.retries * 10)


@app.task(autoretry_for=(ConnectionError,), retry_backoff=True, retry_jitter=True)
def notify_social(article_id, network):
    return network


@app.task
def unpublish_article(article_id, reason=""):
    return reason


@app.task(priority=7)
def breaking_news_alert(article_id):
    return article_id
