from publishing.celery import app


@app.task(queue="billing")
def start_trial(user_id, plan):
    return plan


@app.task(queue="billing", autoretry_for=(ConnectionError,), retry_backoff=True, max_retries=8)
def charge_renewal(subscription_id):
    return subscription_id


@app.task(ignore_result=True, queue="mail")
def send_receipt(subscription_id, amount):
    return amount


@app.task(bind=True, max_retries=3, default_retry_delay=3600)
def dunning_step(self, subscription_id, step):
    return {"subscription": subscription_id, "step": step, "retries": self.request.retries}


@app.task
def expire_trials():
    return 0


@app.task(queue="mail", ignore_result=True)
def paywall_digest(user_id):
    return user_id
