from django.db import transaction

from publishing.articles import tasks


def publish(request, article):
    with transaction.atomic():
        article.publish()
        transaction.on_commit(lambda: tasks.publish_article.delay(article.id))
    tasks.render_amp.delay(article.id)
    for feed in article.feeds.all():
        tasks.render_rss.delay(feed.id)
    tasks.ping_search_engines.delay(article.url)
    tasks.push_to_cdn.apply_async(args=(article.id, article.asset_paths()), countdown=2)
    for network in ("twitter", "mastodon", "bluesky"):
        tasks.notify_social.apply_async(args=(article.id, network), queue="social")
    if article.is_breaking:
        tasks.breaking_news_alert.apply_async((article.id,), priority=9)


def unpublish(request, article):
    tasks.unpublish_article.delay(article.id, reason=request.POST.get("reason", ""))
    tasks.push_to_cdn.delay(article.id, article.asset_paths())
