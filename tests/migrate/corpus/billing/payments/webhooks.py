import json

from django.db import transaction
from django.views.decorators.csrf import csrf_exempt

from . import tasks


@csrf_exempt
def stripe_webhook(request):
    event = json.loads(request.body)
    if event["type"] == "charge.refunded":
        transaction.on_commit(lambda: tasks.refund.delay(event["charge"], event["amount"]))  # LEFT
    elif event["type"] == "invoice.payment_failed":
        tasks.charge_subscription.apply_async(
            args=(event["subscription"],),
            countdown=60,  # give the card issuer a minute
            headers={"source": "stripe"},
        )
    return None
