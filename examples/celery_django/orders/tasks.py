"""The shop's background work, written as Celery tasks."""

import logging
from datetime import timedelta

from celery import shared_task
from django.db.models import F
from django.utils import timezone

from .models import Order

logger = logging.getLogger(__name__)


class GatewayTimeout(Exception):
    """The payment gateway did not answer in time: worth another try."""


class OutOfStock(Exception):
    """The warehouse has not received the item yet."""


@shared_task(
    bind=True,
    autoretry_for=(GatewayTimeout,),
    retry_backoff=1,
    retry_backoff_max=4,
    retry_jitter=False,
    max_retries=3,
    acks_late=True,
)
def charge_order(self, order_id):
    Order.objects.filter(pk=order_id).update(charge_attempts=F("charge_attempts") + 1)
    order = Order.objects.get(pk=order_id)
    if order.flaky_gateway and order.charge_attempts == 1:
        raise GatewayTimeout(f"gateway timed out charging order {order_id}")
    Order.objects.filter(pk=order_id).update(status="charged")
    logger.info("charged order %s (task %s, retry %s)", order_id, self.request.id, self.request.retries)
    reserve_stock.delay(order_id, order.sku, order.quantity)
    return order_id


@shared_task(bind=True, max_retries=2, default_retry_delay=1)
def reserve_stock(self, order_id, sku, quantity):
    Order.objects.filter(pk=order_id).update(reserve_attempts=F("reserve_attempts") + 1)
    if sku.startswith("backorder-") and self.request.retries == 0:
        try:
            raise OutOfStock(f"{sku}: none in stock yet")
        except OutOfStock as exc:
            raise self.retry(exc=exc, countdown=1)
    Order.objects.filter(pk=order_id).update(status="reserved")
    send_confirmation.apply_async(args=(order_id,), countdown=0)


@shared_task(ignore_result=True)
def send_confirmation(order_id):
    Order.objects.filter(pk=order_id).update(status="confirmed")


@shared_task
def sales_report():
    return Order.objects.filter(status="confirmed").count()


@shared_task
def cancel_unpaid(hours):
    stale = timezone.now() - timedelta(hours=hours)
    return Order.objects.filter(status="placed", created_at__lt=stale).update(status="cancelled")
