from lexigram_compat import RetryPolicy, scheduled, task


@scheduled(every=300, name="track-shipments")
@task(retry=RetryPolicy(max_attempts=1))
def poll_carriers():
    return []


@task(queue="labels", timeout=45, retry=RetryPolicy(max_attempts=1))
def print_label(shipment_id, printer="default"):
    return f"{printer}:{shipment_id}"


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=60.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def notify_carrier(shipment_id):
    return shipment_id
