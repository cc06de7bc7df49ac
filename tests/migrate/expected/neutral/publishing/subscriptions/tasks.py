from publishing.celery import app
from lexigram_compat import JobContext, RetryPolicy, task


@task(queue="billing", retry=RetryPolicy(max_attempts=1))
def start_trial(user_id, plan):
    return plan


@task(
    queue="billing",
    retry=RetryPolicy(
        max_attempts=9,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def charge_renewal(subscription_id):
    return subscription_id


@task(queue="mail", retry=RetryPolicy(max_attempts=1))
def send_receipt(subscription_id, amount):
    return amount


@task(retry=RetryPolicy(max_attempts=1))
def dunning_step(subscription_id, step, *, ctx: JobContext):
    return {"subscription": subscription_id, "step": step, "retries": ctx.retries}


@task(retry=RetryPolicy(max_attempts=1))
def expire_trials():
    return 0


@task(queue="mail", retry=RetryPolicy(max_attempts=1))
def paywall_digest(user_id):
    return user_id
