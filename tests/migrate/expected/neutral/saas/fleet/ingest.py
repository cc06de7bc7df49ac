from saas.fleet import tasks
from lexigram_compat.celery import current_app


def on_message(message):
    for point in message["points"]:
        current_app().queue_handle().enqueue_sync(tasks.ingest_position(message["vehicle"], point["lat"], point["lon"]))
        current_app().queue_handle().enqueue_sync(tasks.geofence_check(message["vehicle"]))
    current_app().queue_handle().enqueue_sync(tasks.ingest_batch(message["vehicle"], message["points"]), queue="telemetry")


def assign(job, driver):
    current_app().queue_handle().enqueue_sync(tasks.compute_route(job.id))
    current_app().queue_handle().enqueue_sync(tasks.dispatch_driver(job.id, driver.id), delay=3)


def alarm(vehicle, kind):
    current_app().queue_handle().enqueue_sync(tasks.raise_alert(vehicle.id, kind), priority=9)
