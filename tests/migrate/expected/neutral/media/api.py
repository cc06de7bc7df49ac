"""An async web API (FastAPI style) that enqueues media jobs."""
from media.tasks import notify_uploader, thumbnail, transcode
from lexigram_compat.celery import current_app


async def upload(user_id, path):
    await current_app().queue_handle().enqueue(transcode(path, preset="1080p"))
    await current_app().queue_handle().enqueue(thumbnail(path, sizes=[64]), priority=5)
    job = (await current_app().queue_handle().enqueue(transcode(path), queue="video-fast")).unwrap()
    return {"job": job}


async def finished(user_id, path):
    await notify(user_id, path)


async def notify(user_id, path):
    await current_app().queue_handle().enqueue(notify_uploader(user_id, path))


def sync_upload(path):
    current_app().queue_handle().enqueue_sync(thumbnail(path))
