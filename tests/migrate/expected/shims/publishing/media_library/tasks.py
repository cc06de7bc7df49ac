from publishing.celery import app


@app.task(queue="images", time_limit=120)
def make_thumbnails(image_id, sizes=(320, 640, 1280)):
    return [f"{image_id}@{s}" for s in sizes]


@app.task(queue="images", ignore_result=True)
def strip_exif(image_id):
    return image_id


@app.task(bind=True, queue="images", max_retries=3, default_retry_delay=5)
def detect_faces(self, image_id):
    return {"image": image_id, "job": self.request.id}


@app.task(autoretry_for=(TimeoutError,), max_retries=2)
def fetch_remote_image(url):
    return url


@app.task
def delete_orphans(older_than_days=7):
    return older_than_days


@app.task(queue="video", time_limit=3600, soft_time_limit=3500)
def transcode_video(video_id, preset="hls"):
    return preset
