from publishing.celery import app


@app.task(queue="events", ignore_result=True, compression="gzip")
def record_pageview(article_id, visitor_id, referrer=None):
    return article_id


@app.task(queue="events", ignore_result=True)
def record_scroll_depth(article_id, visitor_id, depth):
    return depth


@app.task(time_limit=900, queue="reports")
def daily_rollup(day):
    return day


@app.task(time_limit=900, queue="reports")
def author_report(author_id, month):
    return month


@app.task(bind=True, autoretry_for=(ConnectionError,), max_retries=3)
def export_to_warehouse(self, day):
    return {"day": day, "job": self.request.id}
