"""An async web API (FastAPI style) that enqueues media jobs."""
from media.tasks import notify_uploader, thumbnail, transcode


async def upload(user_id, path):
    transcode.delay(path, preset="1080p")
    thumbnail.apply_async(args=(path,), kwargs={"sizes": [64]}, priority=5)
    job = transcode.apply_async((path,), queue="video-fast").id
    return {"job": job}


async def finished(user_id, path):
    await notify(user_id, path)


async def notify(user_id, path):
    notify_uploader.delay(user_id, path)


def sync_upload(path):
    thumbnail.delay(path)
