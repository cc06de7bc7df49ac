from marketplace.inventory import tasks
from lexigram_compat.celery import current_app


def reserve(cart):
    for line in cart.lines:
        current_app().queue_handle().enqueue_sync(tasks.reserve_stock(line.sku, line.quantity))


def release(cart):
    for line in cart.lines:
        current_app().queue_handle().enqueue_sync(tasks.release_stock(line.sku, line.quantity), delay=900)


def refresh_suppliers(suppliers):
    for supplier in suppliers:
        current_app().queue_handle().enqueue_sync(tasks.sync_supplier_feed(supplier.id), queue="inventory-low", priority=1)
