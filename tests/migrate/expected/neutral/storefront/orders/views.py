from django.db import transaction
from django.http import JsonResponse

from .tasks import capture_payment, notify_warehouse, send_order_confirmation
from lexigram_compat.celery import current_app


def checkout(request, order):
    with transaction.atomic():
        order.status = "paid"
        order.save()
        # Only enqueue once the order row is committed.
        transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(send_order_confirmation(order.id, order.email)))
        transaction.on_commit(
            lambda: current_app().queue_handle().enqueue_sync(capture_payment(order.id, order.total_cents), delay=2)
        )
    for line in order.lines.all():
        current_app().queue_handle().enqueue_sync(notify_warehouse(order.id, [line.sku]))
    return JsonResponse({"ok": True})


def retry_capture(request, order):
    result = current_app().queue_handle().enqueue_sync(capture_payment(order.id, order.total_cents), queue="payments", priority=7)
    return JsonResponse({"task_id": result.unwrap()})


def capture_now(request, order):
    task_id = current_app().queue_handle().enqueue_sync(capture_payment(order.id, order.total_cents)).unwrap()
    return JsonResponse({"task_id": task_id})
