from saas.lms.tasks import (
    enroll_cohort,
    grade_submission,
    issue_certificate,
    sync_lti_grades,
    track_progress,
    transcode_lecture,
)


def submit(submission):
    grade_submission.delay(submission.id)


def complete_lesson(enrollment, lesson):
    track_progress.delay(enrollment.id, lesson.id)
    if enrollment.is_complete():
        issue_certificate.apply_async(args=(enrollment.id,), countdown=10)
        sync_lti_grades.delay(enrollment.course_id)


def bulk_enroll(course, users):
    ids = [u.id for u in users]
    for start in range(0, len(ids), 100):
        enroll_cohort.apply_async(args=(course.id, ids[start : start + 100]), queue="bulk")


def upload_lecture(video):
    transcode_lecture.apply_async(kwargs={"video_id": video.id}, queue="video", priority=2)
