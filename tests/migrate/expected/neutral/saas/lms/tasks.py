from lexigram_compat import JobContext, RetryPolicy, scheduled, task


@task(queue="grading", timeout=120, retry=RetryPolicy(max_attempts=1))
def grade_submission(submission_id):
    return 100


@task(retry=RetryPolicy(max_attempts=1))
def issue_certificate(enrollment_id, *, ctx: JobContext):
    return {"enrollment": enrollment_id, "id": ctx.job_id}


@task(retry=RetryPolicy(max_attempts=1))
def track_progress(enrollment_id, lesson_id):
    return lesson_id


@scheduled(cron="0 * * * *", name="lti-sync", args=(1,))
@task(
    retry=RetryPolicy(
        max_attempts=7,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError, TimeoutError),
    ),
)
def sync_lti_grades(course_id):
    return course_id


@task(retry=RetryPolicy(max_attempts=1))
def enroll_cohort(course_id, user_ids):
    return len(user_ids)


@task(queue="video", timeout=1800, retry=RetryPolicy(max_attempts=1))
def transcode_lecture(video_id):
    return video_id
