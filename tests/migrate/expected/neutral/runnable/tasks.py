from lexigram_compat import JobContext, Retry, RetryPolicy, task

ATTEMPTS: dict[str, int] = {}


class Flaky(Exception):
    pass


@task(retry=RetryPolicy(max_attempts=1))
def add(x, y):
    return x + y


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def flaky(fail_times, *, ctx: JobContext):
    if ctx.retries < fail_times:
        raise Retry(exc=Flaky(f"attempt {ctx.retries + 1} failed"), delay=0)
    return {"retries": ctx.retries, "name": ctx.task_name}


@task(
    retry=RetryPolicy(
        max_attempts=2,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def gives_up():
    raise Retry(exc=Flaky("still down"), delay=0)


@task(
    retry=RetryPolicy(
        max_attempts=3,
        base_delay=0.0,
        backoff_factor=1.0,
        max_delay=0.0,
        jitter=False,
        retry_on=(Flaky,),
    ),
)
def auto(key):
    ATTEMPTS[key] = ATTEMPTS.get(key, 0) + 1
    if ATTEMPTS[key] < 3:
        raise Flaky(key)
    return ATTEMPTS[key]


@task(retry=RetryPolicy(max_attempts=1))
def boom():
    raise ValueError("a plain error is not retried")


@task(queue="runnable", retry=RetryPolicy(max_attempts=1))
def note(text):
    return None
