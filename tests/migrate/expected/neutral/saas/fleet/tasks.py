from lexigram_compat import JobContext, Retry, RetryPolicy, task


@task(queue="telemetry", retry=RetryPolicy(max_attempts=1))
def ingest_position(vehicle_id, lat, lon):
    return (lat, lon)


@task(queue="telemetry", compression="zlib", retry=RetryPolicy(max_attempts=1))
def ingest_batch(vehicle_id, points):
    return len(points)


@task(
    retry=RetryPolicy(
        max_attempts=5,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(),
    ),
)
def dispatch_driver(job_id, driver_id):
    try:
        return driver_id
    except ConnectionError as exc:
        raise Retry(exc=exc)


@task(retry=RetryPolicy(max_attempts=1))
def compute_route(job_id):
    return []


@task(timeout=90, retry=RetryPolicy(max_attempts=1))
def geofence_check(vehicle_id):
    return False


@task(queue="alerts", priority=9, retry=RetryPolicy(max_attempts=1))
def raise_alert(vehicle_id, kind):
    return kind
