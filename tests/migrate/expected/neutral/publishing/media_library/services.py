from publishing.media_library.tasks import (
    delete_orphans,
    detect_faces,
    fetch_remote_image,
    make_thumbnails,
    strip_exif,
    transcode_video,
)
from lexigram_compat.celery import current_app


def upload(image):
    current_app().queue_handle().enqueue_sync(strip_exif(image.id))
    current_app().queue_handle().enqueue_sync(make_thumbnails(image.id))
    current_app().queue_handle().enqueue_sync(detect_faces(image.id), delay=5)


def import_remote(urls):
    for url in urls:
        current_app().queue_handle().enqueue_sync(fetch_remote_image(url), queue="fetch")


def upload_video(video):
    current_app().queue_handle().enqueue_sync(transcode_video(video_id=video.id, preset="dash"), queue="video")
    current_app().queue_handle().enqueue_sync(transcode_video(video.id))


def cleanup():
    current_app().queue_handle().enqueue_sync(delete_orphans(older_than_days=30))


def rethumb(images, sizes):
    for image in images:
        current_app().queue_handle().enqueue_sync(make_thumbnails(image.id, sizes=sizes), priority=3)
