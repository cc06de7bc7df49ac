from django.db import transaction

from marketplace.shipping.tasks import notify_carrier, print_label
from lexigram_compat.celery import current_app


def ship(order):
    shipment = order.create_shipment()
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(print_label(shipment.id, printer=order.warehouse)))
    transaction.on_commit(lambda: current_app().queue_handle().enqueue_sync(notify_carrier(shipment.id)))
    return shipment
