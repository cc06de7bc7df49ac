from publishing.analytics.tasks import author_report, daily_rollup, export_to_warehouse, record_pageview, record_scroll_depth
from lexigram_compat.celery import current_app


def pageview(request, article):
    current_app().queue_handle().enqueue_sync(record_pageview(article.id, request.session.session_key, referrer=request.META.get("HTTP_REFERER")))


def scroll(request, article, depth):
    current_app().queue_handle().enqueue_sync(record_scroll_depth(article.id, request.session.session_key, depth))


def month_end(authors, month):
    for author in authors:
        current_app().queue_handle().enqueue_sync(author_report(author.id, month), queue="reports")


def end_of_day(day):
    current_app().queue_handle().enqueue_sync(daily_rollup(day))
    current_app().queue_handle().enqueue_sync(export_to_warehouse(day), delay=600)
