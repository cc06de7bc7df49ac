from django.db import transaction
from django.http import JsonResponse

from .tasks import capture_payment, notify_warehouse, send_order_confirmation


def checkout(request, order):
    with transaction.atomic():
        order.status = "paid"
        order.save()
        # Only enqueue once the order row is committed.
        transaction.on_commit(lambda: send_order_confirmation.delay(order.id, order.email))
        transaction.on_commit(
            lambda: capture_payment.apply_async(args=(order.id, order.total_cents), countdown=2)
        )
    for line in order.lines.all():
        notify_warehouse.delay(order.id, [line.sku])
    return JsonResponse({"ok": True})


def retry_capture(request, order):
    result = capture_payment.apply_async((order.id, order.total_cents), queue="payments", priority=7)
    return JsonResponse({"task_id": result.id})


def capture_now(request, order):
    task_id = capture_payment.delay(order.id, order.total_cents).id
    return JsonResponse({"task_id": task_id})
