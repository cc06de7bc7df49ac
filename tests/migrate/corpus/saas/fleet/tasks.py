from celery import shared_task


@shared_task(queue="telemetry", ignore_result=True)
def ingest_position(vehicle_id, lat, lon):
    return (lat, lon)


@shared_task(queue="telemetry", ignore_result=True, compression="zlib")
def ingest_batch(vehicle_id, points):
    return len(points)


@shared_task(bind=True, max_retries=4, retry_backoff=True)
def dispatch_driver(self, job_id, driver_id):
    try:
        return driver_id
    except ConnectionError as exc:
        raise self.retry(exc=exc)


@shared_task
def compute_route(job_id):
    return []


@shared_task(time_limit=90)
def geofence_check(vehicle_id):
    return False


@shared_task(priority=9, queue="alerts")
def raise_alert(vehicle_id, kind):
    return kind
