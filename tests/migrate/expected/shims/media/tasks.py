import subprocess

from lexigram_compat.celery import shared_task

from media.celery import LoggingTask, app


class TranscodeError(Exception):
    pass


class UnsupportedCodec(Exception):
    pass


@app.task(base=LoggingTask)  # LEFT
def probe(path):
    return subprocess.run(["ffprobe", path], check=False).returncode


@app.task(bind=True, queue="video", throws=(UnsupportedCodec,), max_retries=2)
def transcode(self, path, preset="720p"):
    try:
        print("transcode", path, preset, self.request.headers, self.request.kwargs)
    except TranscodeError as exc:
        raise self.retry(exc=exc, countdown=30, max_retries=3)
    return {"path": path, "queue": self.request.delivery_info["routing_key"]}


@shared_task(bind=True)
def thumbnail(self, path, sizes=(128, 256)):
    print("thumb", self.name, path, sizes)
    return [f"{path}@{s}" for s in sizes]


@shared_task
async def notify_uploader(user_id, path):
    return user_id
