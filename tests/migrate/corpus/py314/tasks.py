"""A project on Python 3.14: except without parentheses (PEP 758)."""
import json

from celery import shared_task


class Throttled(Exception):
    pass


@shared_task(bind=True, max_retries=4, default_retry_delay=5)
def fetch(self, url):
    try:
        return json.loads(url)
    except ValueError, TypeError:
        return None
    except Throttled as exc:
        raise self.retry(exc=exc, countdown=15)


@shared_task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=2)
def push(payload):
    try:
        return payload["id"]
    except KeyError, IndexError:
        return None


def fan_out(urls):
    for url in urls:
        fetch.delay(url)
