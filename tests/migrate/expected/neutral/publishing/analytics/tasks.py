from publishing.celery import app
from lexigram_compat import JobContext, RetryPolicy, task


@task(queue="events", compression="gzip", retry=RetryPolicy(max_attempts=1))
def record_pageview(article_id, visitor_id, referrer=None):
    return article_id


@task(queue="events", retry=RetryPolicy(max_attempts=1))
def record_scroll_depth(article_id, visitor_id, depth):
    return depth


@task(queue="reports", timeout=900, retry=RetryPolicy(max_attempts=1))
def daily_rollup(day):
    return day


@task(queue="reports", timeout=900, retry=RetryPolicy(max_attempts=1))
def author_report(author_id, month):
    return month


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(ConnectionError,),
    ),
)
def export_to_warehouse(day, *, ctx: JobContext):
    return {"day": day, "job": ctx.job_id}
