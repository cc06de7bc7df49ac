from django.db import transaction

from newsletter.celery_app import app
from lexigram_compat import RetryPolicy, task
from lexigram_compat.celery import current_app


@task(retry=RetryPolicy(max_attempts=1))
@transaction.atomic
def import_subscribers(list_id, rows):
    return len(rows)


@task(retry=RetryPolicy(max_attempts=1))
def send_welcome(subscriber_id):
    return subscriber_id


@task(retry=RetryPolicy(max_attempts=1))
def sync_to_crm(subscriber_id, fields):
    return fields


def subscribe(form):
    subscriber = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(send_welcome(subscriber.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(sync_to_crm(subscriber.id, fields=form.changed_data)))
    return subscriber
