from publishing.subscriptions import tasks
from lexigram_compat.celery import current_app


def subscribe(user, plan):
    current_app().queue_handle().enqueue_sync(tasks.start_trial(user.id, plan.code))
    current_app().queue_handle().enqueue_sync(tasks.paywall_digest(user.id), delay=86400)


def renew(subscriptions):
    for subscription in subscriptions:
        current_app().queue_handle().enqueue_sync(tasks.charge_renewal(subscription.id))


def paid(subscription, amount):
    current_app().queue_handle().enqueue_sync(tasks.send_receipt(subscription.id, amount))


def failed(subscription):
    for step, delay in enumerate((3600, 86400, 259200), start=1):
        current_app().queue_handle().enqueue_sync(tasks.dunning_step(subscription.id, step), delay=delay)
