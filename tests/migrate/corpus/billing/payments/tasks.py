from celery import shared_task
from celery.exceptions import MaxRetriesExceededError

import billing.gateway as gateway


class CardDeclined(Exception):
    pass


@shared_task
def charge_due_subscriptions():
    for sub in gateway.due():
        charge_subscription.delay(sub.id)


@shared_task(bind=True, max_retries=None, retry_backoff=5, retry_backoff_max=3600, autoretry_for=(gateway.GatewayTimeout,), dont_autoretry_for=(CardDeclined,))
def charge_subscription(self, subscription_id):
    return gateway.charge(subscription_id, idempotency_key=self.request.id)


@shared_task(queue="payments", priority=3)
def retry_failed_charges():
    for charge in gateway.failed():
        charge_subscription.apply_async((charge.subscription_id,), priority=9)


@shared_task(bind=True, max_retries=4)  # LEFT
def refund(self, charge_id, amount):
    try:
        gateway.refund(charge_id, amount)
    except gateway.GatewayTimeout as exc:
        try:
            self.retry(exc=exc, countdown=2 ** self.request.retries)
        except MaxRetriesExceededError:
            gateway.flag_for_review(charge_id)
            raise
