from marketplace.inventory import tasks


def reserve(cart):
    for line in cart.lines:
        tasks.reserve_stock.delay(line.sku, line.quantity)


def release(cart):
    for line in cart.lines:
        tasks.release_stock.apply_async((line.sku, line.quantity), countdown=900)


def refresh_suppliers(suppliers):
    for supplier in suppliers:
        tasks.sync_supplier_feed.apply_async(args=[supplier.id], queue="inventory-low", priority=1)
