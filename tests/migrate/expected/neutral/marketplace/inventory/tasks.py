from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task


@scheduled(cron="0 7 * * *", name="restock-report", args=(10,))
@task(retry=RetryPolicy(max_attempts=1))
def restock_report(threshold):
    return threshold


@task(queue="inventory", timeout=60, retry=RetryPolicy(max_attempts=1))
def reserve_stock(sku, quantity):
    return {"sku": sku, "reserved": quantity}


@task(
    queue="inventory",
    retry=RetryPolicy(
        max_attempts=11,
        base_delay=5.0,
        backoff_factor=1.0,
        max_delay=5.0,
        jitter=False,
        retry_on=(TimeoutError,),
    ),
)
def release_stock(sku, quantity):
    return quantity


@task(
    queue="inventory",
    retry=RetryPolicy(
        max_attempts=8,
        base_delay=3.0,
        backoff_factor=2.0,
        max_delay=120.0,
        jitter="full",
        retry_on=(),
    ),
)
def sync_supplier_feed(supplier_id):
    try:
        return supplier_id
    except OSError as exc:
        raise Retry(exc=exc)
