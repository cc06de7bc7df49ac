from celery import chain, chord, group  # LEFT
from lexigram_compat.celery.result import AsyncResult

from pipeline.app import app
from lexigram_compat import RetryPolicy, scheduled, task
from datetime import timedelta


@scheduled(every=timedelta(seconds=30), name="ingest-feeds", args=(["rss", "atom"],))
@task(retry=RetryPolicy(max_attempts=1))
def ingest_feeds(kinds):
    return [f"{kind}:ok" for kind in kinds]


@task(queue="ingest", retry=RetryPolicy(max_attempts=1))
def ingest_file(path):
    return path


@scheduled(cron="15 */6 * * *", name="compact-warehouse", kwargs={"vacuum": False})
@task(retry=RetryPolicy(max_attempts=1))
def compact_warehouse(vacuum=True):
    return vacuum


@task(retry=RetryPolicy(max_attempts=1))
def daily_report():
    return "report"


@app.task(bind=True)  # LEFT
def sync_partners(self, which="all"):
    self.update_state(state="PROGRESS", meta={"which": which})
    return which


@task(retry=RetryPolicy(max_attempts=1))
def summarize(results):
    return len(results)


@task(retry=RetryPolicy(max_attempts=1))
def parse(path):
    return path


@task(retry=RetryPolicy(max_attempts=1))
def load(rows):
    return rows


def run_import(paths):
    workflow = chord(group(ingest_file.s(p) for p in paths), summarize.s())  # LEFT
    return workflow.apply_async()  # LEFT


def run_one(path):
    return (parse.s(path) | load.s()).delay()  # LEFT


def run_chain(path):
    return chain(parse.s(path), load.s())()  # LEFT


def wait_for(task_id):
    return AsyncResult(task_id, app=app).get(timeout=30)  # LEFT


def ingest_and_wait(path):
    return ingest_file.delay(path).get(timeout=60)  # LEFT


def cancel(task_id):
    app.control.revoke(task_id, terminate=True)  # LEFT


def ingest_many(paths):
    return ingest_file.chunks(((p,) for p in paths), 10).apply_async()  # LEFT
