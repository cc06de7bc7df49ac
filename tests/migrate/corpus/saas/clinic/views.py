from django.db import transaction

from saas.clinic.tasks import appointment_reminder, audit_access, cancel_no_shows, lab_report, sync_ehr


def book(request, form):
    appointment = form.save()
    transaction.on_commit(
        lambda: appointment_reminder.apply_async(args=(appointment.id,), eta=appointment.remind_at)
    )
    return appointment


def open_record(request, record):
    audit_access.delay(request.user.id, record.id)
    sync_ehr.delay(record.patient_id)


def order_lab(order):
    lab_report.apply_async(args=(order.id,), countdown=3600)


def end_of_day(day):
    cancel_no_shows.delay(day.isoformat())
