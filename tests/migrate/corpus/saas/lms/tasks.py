from celery import shared_task


@shared_task(queue="grading", time_limit=120)
def grade_submission(submission_id):
    return 100


@shared_task(bind=True, max_retries=3, default_retry_delay=30)
def issue_certificate(self, enrollment_id):
    return {"enrollment": enrollment_id, "id": self.request.id}


@shared_task(ignore_result=True)
def track_progress(enrollment_id, lesson_id):
    return lesson_id


@shared_task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, max_retries=6)
def sync_lti_grades(course_id):
    return course_id


@shared_task
def enroll_cohort(course_id, user_ids):
    return len(user_ids)


@shared_task(queue="video", time_limit=1800)
def transcode_lecture(video_id):
    return video_id
