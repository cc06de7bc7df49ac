from celery import shared_task

ATTEMPTS: dict[str, int] = {}


class Flaky(Exception):
    pass


@shared_task
def add(x, y):
    return x + y


@shared_task(bind=True, max_retries=3)
def flaky(self, fail_times):
    if self.request.retries < fail_times:
        raise self.retry(exc=Flaky(f"attempt {self.request.retries + 1} failed"), countdown=0)
    return {"retries": self.request.retries, "name": self.name}


@shared_task(bind=True, max_retries=1)
def gives_up(self):
    raise self.retry(exc=Flaky("still down"), countdown=0)


@shared_task(autoretry_for=(Flaky,), max_retries=2, retry_kwargs={"countdown": 0})
def auto(key):
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise Flaky(key)
    return ATTEMPTS[key]


@shared_task
def boom():
    raise ValueError("a plain error is not retried")


@shared_task(ignore_result=True, queue="runnable")
def note(text):
    return None
