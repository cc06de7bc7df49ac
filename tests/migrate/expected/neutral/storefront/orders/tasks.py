import logging
from django.conf import settings
from django.core.mail import send_mail
from lexigram_compat import JobContext, Retry, RetryPolicy, scheduled, task

logger = logging.getLogger(__name__)


class PaymentGatewayError(Exception):
    pass


@scheduled(cron="*/15 * * * *", name="expire-carts")
@task(retry=RetryPolicy(max_attempts=1))
def expire_abandoned_carts():
    logger.info("expiring carts")
    return 0


@task(queue=settings.ORDERS_QUEUE, retry=RetryPolicy(max_attempts=1))
def send_order_confirmation(order_id, email):
    send_mail("Your order", f"Order {order_id} confirmed", "shop@example.com", [email])


@task(
    retry=RetryPolicy(
        max_attempts=6,
        base_delay=30.0,
        backoff_factor=1.0,
        max_delay=30.0,
        jitter=False,
        retry_on=(),
    ),
)
def capture_payment(order_id, amount_cents, *, ctx: JobContext):
    try:
        logger.info("capturing %s for order %s (attempt %s)", amount_cents, order_id, ctx.retries)
    except PaymentGatewayError as exc:
        # The gateway is flaky: try again in a minute.
        raise Retry(exc=exc, delay=60)
    return {"order": order_id, "captured": amount_cents}


@task(
    retry=RetryPolicy(
        max_attempts=9,
        base_delay=1.0,
        backoff_factor=2.0,
        max_delay=300.0,
        jitter="full",
        retry_on=(ConnectionError, TimeoutError),
    ),
)
def notify_warehouse(order_id, items):
    logger.info("warehouse: %s %s", order_id, items)


@scheduled(cron="0 6 * * mon-fri", name="nightly-sales-report", args=("sales@example.com",))
@task(retry=RetryPolicy(max_attempts=1))
def email_sales_report(recipient):
    send_mail("Sales", "...", "shop@example.com", [recipient])
