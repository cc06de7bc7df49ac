from lexigram_compat.celery import shared_task


@shared_task
def poll_carriers():
    return []


@shared_task(queue="labels", time_limit=45, ignore_result=False)
def print_label(shipment_id, printer="default"):
    return f"{printer}:{shipment_id}"


@shared_task(max_retries=5, retry_backoff=True, retry_backoff_max=60, retry_jitter=True, autoretry_for=(ConnectionError,))
def notify_carrier(shipment_id):
    return shipment_id
