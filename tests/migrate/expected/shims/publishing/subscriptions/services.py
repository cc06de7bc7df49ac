from publishing.subscriptions import tasks


def subscribe(user, plan):
    tasks.start_trial.delay(user.id, plan.code)
    tasks.paywall_digest.apply_async(args=(user.id,), countdown=86400)


def renew(subscriptions):
    for subscription in subscriptions:
        tasks.charge_renewal.delay(subscription.id)


def paid(subscription, amount):
    tasks.send_receipt.delay(subscription.id, amount)


def failed(subscription):
    for step, delay in enumerate((3600, 86400, 259200), start=1):
        tasks.dunning_step.apply_async(args=(subscription.id, step), countdown=delay)
