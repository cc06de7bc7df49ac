import logging

from lexigram_compat.celery import shared_task
from django.conf import settings
from django.core.mail import send_mail

logger = logging.getLogger(__name__)


class PaymentGatewayError(Exception):
    pass


@shared_task
def expire_abandoned_carts():
    logger.info("expiring carts")
    return 0


@shared_task(queue=settings.ORDERS_QUEUE, ignore_result=True)
def send_order_confirmation(order_id, email):
    send_mail("Your order", f"Order {order_id} confirmed", "shop@example.com", [email])


@shared_task(
    bind=True,
    max_retries=5,
    default_retry_delay=30,
    acks_late=True,
)
def capture_payment(self, order_id, amount_cents):
    try:
        logger.info("capturing %s for order %s (attempt %s)", amount_cents, order_id, self.request.retries)
    except PaymentGatewayError as exc:
        # The gateway is flaky: try again in a minute.
        raise self.retry(exc=exc, countdown=60)
    return {"order": order_id, "captured": amount_cents}


@shared_task(autoretry_for=(ConnectionError, TimeoutError), retry_backoff=True, retry_backoff_max=300, retry_jitter=True, max_retries=8)
def notify_warehouse(order_id, items):
    logger.info("warehouse: %s %s", order_id, items)


@shared_task
def email_sales_report(recipient):
    send_mail("Sales", "...", "shop@example.com", [recipient])
