"""What the web views call: place orders; the work after the commit is Celery's."""

from django.db import transaction

from .models import Order
from .tasks import charge_order


def place_order(sku, quantity=1, flaky_gateway=False):
    with transaction.atomic():
        order = Order.objects.create(sku=sku, quantity=quantity, flaky_gateway=flaky_gateway)
        # Charge only once the order is committed: the worker must find it.
        transaction.on_commit(lambda: charge_order.delay(order.pk))
    return order
