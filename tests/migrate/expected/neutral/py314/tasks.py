"""A project on Python 3.14: except without parentheses (PEP 758)."""
import json

from lexigram_compat.celery import current_app
from lexigram_compat import JobContext, Retry, RetryPolicy, task


class Throttled(Exception):
    pass


@task(
    retry=RetryPolicy(
        max_attempts=5,
        base_delay=5.0,
        backoff_factor=1.0,
        max_delay=5.0,
        jitter=False,
        retry_on=(),
    ),
)
def fetch(url):
    try:
        return json.loads(url)
    except ValueError, TypeError:
        return None
    except Throttled as exc:
        raise Retry(exc=exc, delay=15)


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=2.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError, TimeoutError),
    ),
)
def push(payload):
    try:
        return payload["id"]
    except KeyError, IndexError:
        return None


def fan_out(urls):
    for url in urls:
        current_app().queue_handle().enqueue_sync(fetch(url))
