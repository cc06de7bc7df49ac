from django.db.models.signals import post_save
from django.dispatch import receiver

from marketplace.loyalty.tasks import award_points, recompute_tier
from lexigram_compat.celery import current_app


@receiver(post_save, sender="orders.Order")
def order_paid(sender, instance, **kwargs):
    if instance.status == "paid":
        current_app().queue_handle().enqueue_sync(award_points(instance.user_id, instance.total // 100))
        current_app().queue_handle().enqueue_sync(recompute_tier(instance.user_id), delay=30)
