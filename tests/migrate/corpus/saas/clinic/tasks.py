from celery import shared_task


@shared_task(queue="sms")
def appointment_reminder(appointment_id):
    return appointment_id


@shared_task(bind=True, autoretry_for=(ConnectionError,), retry_kwargs={"max_retries": 3}, retry_backoff=True)
def sync_ehr(self, patient_id):
    return {"patient": patient_id, "attempt": self.request.retries}


@shared_task(ignore_result=True)
def audit_access(user_id, record_id):
    return record_id


@shared_task(time_limit=240, queue="reports")
def lab_report(order_id):
    return order_id


@shared_task
def cancel_no_shows(day):
    return day
