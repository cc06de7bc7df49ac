import json

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from . import tasks
from lexigram_compat.celery import current_app


@csrf_exempt
def stripe_webhook(request):
    event = json.loads(request.body)
    if event["type"] == "charge.refunded":
        transaction.on_commit(lambda: tasks.refund.delay(event["charge"], event["amount"]))  # LEFT
    elif event["type"] == "invoice.payment_failed":
        current_app().queue_handle().enqueue_sync(
            tasks.charge_subscription(event["subscription"]),
            delay=60,  # give the card issuer a minute
            headers={"source": "stripe"},
        )
    return None
