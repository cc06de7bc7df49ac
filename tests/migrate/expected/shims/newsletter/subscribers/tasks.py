from django.db import transaction

from newsletter.celery_app import app


@app.task(ignore_result=True, acks_late=True)
@transaction.atomic
def import_subscribers(list_id, rows):
    return len(rows)


@app.task(ignore_result=True)
def send_welcome(subscriber_id):
    return subscriber_id


@app.task(max_retries=0)
def sync_to_crm(subscriber_id, fields):
    return fields


def subscribe(form):
    subscriber = form.save()
    transaction.on_commit(lambda: send_welcome.delay(subscriber.id))
    transaction.on_commit(lambda: sync_to_crm.apply_async(args=[subscriber.id], kwargs={"fields": form.changed_data}))
    return subscriber
