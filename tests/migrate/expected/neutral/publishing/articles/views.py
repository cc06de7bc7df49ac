from django.db import transaction

from publishing.articles import tasks
from lexigram_compat.celery import current_app


def publish(request, article):
    with transaction.atomic():
        article.publish()
        transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(tasks.publish_article(article.id)))
    current_app().queue_handle().enqueue_sync(tasks.render_amp(article.id))
    for feed in article.feeds.all():
        current_app().queue_handle().enqueue_sync(tasks.render_rss(feed.id))
    current_app().queue_handle().enqueue_sync(tasks.ping_search_engines(article.url))
    current_app().queue_handle().enqueue_sync(tasks.push_to_cdn(article.id, article.asset_paths()), delay=2)
    for network in ("twitter", "mastodon", "bluesky"):
        current_app().queue_handle().enqueue_sync(tasks.notify_social(article.id, network), queue="social")
    if article.is_breaking:
        current_app().queue_handle().enqueue_sync(tasks.breaking_news_alert(article.id), priority=9)


def unpublish(request, article):
    current_app().queue_handle().enqueue_sync(tasks.unpublish_article(article.id, reason=request.POST.get("reason", "")))
    current_app().queue_handle().enqueue_sync(tasks.push_to_cdn(article.id, article.asset_paths()))
