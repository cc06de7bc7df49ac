from publishing.celery import app
from lexigram_compat import JobContext, RetryPolicy, task


@task(queue="images", timeout=120, retry=RetryPolicy(max_attempts=1))
def make_thumbnails(image_id, sizes=(320, 640, 1280)):
    return [f"{image_id}@{s}" for s in sizes]


@task(queue="images", retry=RetryPolicy(max_attempts=1))
def strip_exif(image_id):
    return image_id


@task(queue="images", retry=RetryPolicy(max_attempts=1))
def detect_faces(image_id, *, ctx: JobContext):
    return {"image": image_id, "job": ctx.job_id}


@task(
    retry=RetryPolicy(
        max_attempts=3,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(TimeoutError,),
    ),
)
def fetch_remote_image(url):
    return url


@task(retry=RetryPolicy(max_attempts=1))
def delete_orphans(older_than_days=7):
    return older_than_days


@task(queue="video", timeout=3600, soft_timeout=3500.0, retry=RetryPolicy(max_attempts=1))
def transcode_video(video_id, preset="hls"):
    return preset
