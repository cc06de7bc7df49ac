from publishing.media_library.tasks import (
    delete_orphans,
    detect_faces,
    fetch_remote_image,
    make_thumbnails,
    strip_exif,
    transcode_video,
)


def upload(image):
    strip_exif.delay(image.id)
    make_thumbnails.delay(image.id)
    detect_faces.apply_async(args=(image.id,), countdown=5)


def import_remote(urls):
    for url in urls:
        fetch_remote_image.apply_async(args=(url,), queue="fetch")


def upload_video(video):
    transcode_video.apply_async(kwargs={"video_id": video.id, "preset": "dash"}, queue="video")
    transcode_video.delay(video.id)


def cleanup():
    delete_orphans.delay(older_than_days=30)


def rethumb(images, sizes):
    for image in images:
        make_thumbnails.apply_async((image.id,), {"sizes": sizes}, priority=3)
