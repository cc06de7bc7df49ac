from django.db import models


class Order(models.Model):
    """An order: placed, charged (the payment gateway may time out), reserved, confirmed."""

    sku = models.CharField(max_length=32)
    quantity = models.PositiveIntegerField(default=1)
    status = models.CharField(max_length=16, default="placed")
    charge_attempts = models.PositiveIntegerField(default=0)
    reserve_attempts = models.PositiveIntegerField(default=0)
    flaky_gateway = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"order {self.pk} ({self.sku} x{self.quantity}): {self.status}"
