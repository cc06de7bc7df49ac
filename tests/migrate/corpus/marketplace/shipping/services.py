from django.db import transaction

from marketplace.shipping.tasks import notify_carrier, print_label


def ship(order):
    shipment = order.create_shipment()
    transaction.on_commit(lambda: print_label.apply_async(args=(shipment.id,), kwargs={"printer": order.warehouse}))
    transaction.on_commit(lambda: notify_carrier.delay(shipment.id))
    return shipment
