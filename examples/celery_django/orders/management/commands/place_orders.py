from django.core.management.base import BaseCommand

from orders.services import place_order


class Command(BaseCommand):
    help = (
        "Place COUNT orders; every FLAKY_EVERY-th meets a gateway timeout, "
        "every BACKORDER_EVERY-th waits for stock."
    )

    def add_arguments(self, parser):
        parser.add_argument("--count", type=int, default=3)
        parser.add_argument("--flaky-every", type=int, default=0)
        parser.add_argument("--backorder-every", type=int, default=0)
        parser.add_argument("--sku-prefix", default="sku")

    def handle(self, *args, count, flaky_every, backorder_every, sku_prefix, **options):
        for n in range(1, count + 1):
            backorder = bool(backorder_every) and n % backorder_every == 0
            sku = f"backorder-{sku_prefix}-{n}" if backorder else f"{sku_prefix}-{n}"
            order = place_order(sku, quantity=n, flaky_gateway=bool(flaky_every) and n % flaky_every == 0)
            self.stdout.write(str(order.pk))
