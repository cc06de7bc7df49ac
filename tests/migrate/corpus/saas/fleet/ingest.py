from saas.fleet import tasks


def on_message(message):
    for point in message["points"]:
        tasks.ingest_position.delay(message["vehicle"], point["lat"], point["lon"])
        tasks.geofence_check.delay(message["vehicle"])
    tasks.ingest_batch.apply_async(args=(message["vehicle"], message["points"]), queue="telemetry")


def assign(job, driver):
    tasks.compute_route.delay(job.id)
    tasks.dispatch_driver.apply_async(args=(job.id, driver.id), countdown=3)


def alarm(vehicle, kind):
    tasks.raise_alert.apply_async((vehicle.id, kind), priority=9)
