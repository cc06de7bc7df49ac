from saas.lms.tasks import (
    enroll_cohort,
    grade_submission,
    issue_certificate,
    sync_lti_grades,
    track_progress,
    transcode_lecture,
)
from lexigram_compat.celery import current_app


def submit(submission):
    current_app().queue_handle().enqueue_sync(grade_submission(submission.id))


def complete_lesson(enrollment, lesson):
    current_app().queue_handle().enqueue_sync(track_progress(enrollment.id, lesson.id))
    if enrollment.is_complete():
        current_app().queue_handle().enqueue_sync(issue_certificate(enrollment.id), delay=10)
        current_app().queue_handle().enqueue_sync(sync_lti_grades(enrollment.course_id))


def bulk_enroll(course, users):
    ids = [u.id for u in users]
    for start in range(0, len(ids), 100):
        current_app().queue_handle().enqueue_sync(enroll_cohort(course.id, ids[start : start + 100]), queue="bulk")


def upload_lecture(video):
    current_app().queue_handle().enqueue_sync(transcode_lecture(video_id=video.id), queue="video", priority=2)
