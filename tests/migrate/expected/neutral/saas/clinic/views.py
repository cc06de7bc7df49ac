from django.db import transaction

from saas.clinic.tasks import appointment_reminder, audit_access, cancel_no_shows, lab_report, sync_ehr
from lexigram_compat.celery import current_app


def book(request, form):
    appointment = form.save()
    transaction.on_commit(
        lambda: current_app().queue_handle().enqueue_sync(appointment_reminder(appointment.id), eta=appointment.remind_at)
    )
    return appointment


def open_record(request, record):
    current_app().queue_handle().enqueue_sync(audit_access(request.user.id, record.id))
    current_app().queue_handle().enqueue_sync(sync_ehr(record.patient_id))


def order_lab(order):
    current_app().queue_handle().enqueue_sync(lab_report(order.id), delay=3600)


def end_of_day(day):
    current_app().queue_handle().enqueue_sync(cancel_no_shows(day.isoformat()))
