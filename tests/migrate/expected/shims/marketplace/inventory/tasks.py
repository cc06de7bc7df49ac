from lexigram_compat.celery import shared_task


@shared_task
def restock_report(threshold):
    return threshold


@shared_task(queue="inventory", time_limit=60)
def reserve_stock(sku, quantity):
    return {"sku": sku, "reserved": quantity}


@shared_task(queue="inventory", max_retries=10, default_retry_delay=5, autoretry_for=(TimeoutError,))
def release_stock(sku, quantity):
    return quantity


@shared_task(bind=True, queue="inventory", retry_backoff=3, retry_backoff_max=120, max_retries=7)
def sync_supplier_feed(self, supplier_id):
    try:
        return supplier_id
    except OSError as exc:
        raise self.retry(exc=exc)
