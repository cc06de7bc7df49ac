from lexigram_compat.celery import shared_task, current_app
from lexigram_compat.celery.exceptions import MaxRetriesExceededError

import billing.gateway as gateway
from lexigram_compat import JobContext, RetryPolicy, scheduled, task
from datetime import timedelta


class CardDeclined(Exception):
    pass


@scheduled(every=timedelta(minutes=5), name="charge-due-subscriptions")
@task(retry=RetryPolicy(max_attempts=1))
def charge_due_subscriptions():
    for sub in gateway.due():
        current_app().queue_handle().enqueue_sync(charge_subscription(sub.id))


@task(
    retry=RetryPolicy(
        max_attempts=2147483647,
        base_delay=5.0,
        backoff_factor=2.0,
        max_delay=3600.0,
        jitter="full",
        retry_on=(gateway.GatewayTimeout,),
        abort_on=(CardDeclined,),
    ),
)
def charge_subscription(subscription_id, *, ctx: JobContext):
    return gateway.charge(subscription_id, idempotency_key=ctx.job_id)


@scheduled(every=900.0, name="retry-failed-charges", queue="payments", priority=3)
@task(queue="payments", priority=3, retry=RetryPolicy(max_attempts=1))
def retry_failed_charges():
    for charge in gateway.failed():
        current_app().queue_handle().enqueue_sync(charge_subscription(charge.subscription_id), priority=9)


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
