from lexigram_compat import JobContext, RetryPolicy, scheduled, task


@task(queue="sms", retry=RetryPolicy(max_attempts=1))
def appointment_reminder(appointment_id):
    return appointment_id


@task(
    retry=RetryPolicy(
        max_attempts=4,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=600.0,
        jitter="full",
        retry_on=(ConnectionError,),
    ),
)
def sync_ehr(patient_id, *, ctx: JobContext):
    return {"patient": patient_id, "attempt": ctx.retries}


@task(retry=RetryPolicy(max_attempts=1))
def audit_access(user_id, record_id):
    return record_id


@task(queue="reports", timeout=240, retry=RetryPolicy(max_attempts=1))
def lab_report(order_id):
    return order_id


@scheduled(cron="0 20 * * *", name="no-shows", args=("today",))
@task(retry=RetryPolicy(max_attempts=1))
def cancel_no_shows(day):
    return day
