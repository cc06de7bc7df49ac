from publishing.analytics.tasks import author_report, daily_rollup, export_to_warehouse, record_pageview, record_scroll_depth


def pageview(request, article):
    record_pageview.delay(article.id, request.session.session_key, referrer=request.META.get("HTTP_REFERER"))


def scroll(request, article, depth):
    record_scroll_depth.delay(article.id, request.session.session_key, depth)


def month_end(authors, month):
    for author in authors:
        author_report.apply_async(args=(author.id, month), queue="reports")


def end_of_day(day):
    daily_rollup.delay(day)
    export_to_warehouse.apply_async(args=(day,), countdown=600)
