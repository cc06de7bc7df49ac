from django.db.models.signals import post_save
from django.dispatch import receiver

from marketplace.loyalty.tasks import award_points, recompute_tier


@receiver(post_save, sender="orders.Order")
def order_paid(sender, instance, **kwargs):
    if instance.status == "paid":
        award_points.delay(instance.user_id, instance.total // 100)
        recompute_tier.apply_async(args=(instance.user_id,), countdown=30)
