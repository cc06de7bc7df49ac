from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from saas.events.tasks import (
    attendance_report,
    checkin,
    generate_badge,
    release_unpaid_seats,
    send_reminder,
    send_ticket,
    sync_calendar,
)


def register(request, event, form):
    registration = form.save()
    transaction.on_commit(lambda: send_ticket.delay(registration.id))
    transaction.on_commit(lambda: generate_badge.delay(registration.id))
    for provider in ("google", "outlook"):
        sync_calendar.delay(event.id, provider)
    return registration


def publish(event):
    for hours in (48, 24, 1):
        send_reminder.apply_async(args=(event.id, hours), eta=event.starts_at - timedelta(hours=hours))
    release_unpaid_seats.apply_async(args=(event.id,), eta=timezone.now() + timedelta(minutes=30))


def scan(request, registration_id):
    checkin.delay(registration_id, request.GET["gate"])


def close(event):
    attendance_report.apply_async(args=[event.id], queue="reports")
