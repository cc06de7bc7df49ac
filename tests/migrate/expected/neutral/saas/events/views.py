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
from lexigram_compat.celery import current_app


def register(request, event, form):
    registration = form.save()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(send_ticket(registration.id)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(generate_badge(registration.id)))
    for provider in ("google", "outlook"):
        current_app().queue_handle().enqueue_sync(sync_calendar(event.id, provider))
    return registration


def publish(event):
    for hours in (48, 24, 1):
        current_app().queue_handle().enqueue_sync(send_reminder(event.id, hours), eta=event.starts_at - timedelta(hours=hours))
    current_app().queue_handle().enqueue_sync(release_unpaid_seats(event.id), eta=timezone.now() + timedelta(minutes=30))


def scan(request, registration_id):
    current_app().queue_handle().enqueue_sync(checkin(registration_id, request.GET["gate"]))


def close(event):
    current_app().queue_handle().enqueue_sync(attendance_report(event.id), queue="reports")
