import subprocess

from media.celery import LoggingTask, app
from lexigram_compat import JobContext, Retry, RetryPolicy, task


class TranscodeError(Exception):
    pass


class UnsupportedCodec(Exception):
    pass


@app.task(base=LoggingTask)  # LEFT
def probe(path):
    return subprocess.run(["ffprobe", path], check=False).returncode


@task(
    queue="video",
    retry=RetryPolicy(
        max_attempts=3,
        base_delay=180.0,
        backoff_factor=1.0,
        max_delay=180.0,
        jitter=False,
        retry_on=(),
    ),
)
def transcode(path, preset="720p", *, ctx: JobContext):
    try:
        print("transcode", path, preset, ctx.headers, dict(ctx.kwargs))
    except TranscodeError as exc:
        raise Retry(exc=exc, delay=30, max_attempts=4)
    return {"path": path, "queue": ctx.queue}


@task(retry=RetryPolicy(max_attempts=1))
def thumbnail(path, sizes=(128, 256), *, ctx: JobContext):
    print("thumb", ctx.task_name, path, sizes)
    return [f"{path}@{s}" for s in sizes]


@task(retry=RetryPolicy(max_attempts=1))
async def notify_uploader(user_id, path):
    return user_id
