from django.db.models.signals import post_save
from django.dispatch import receiver

from storefront.catalog.tasks import reindex_product
from lexigram_compat.celery import current_app


@receiver(post_save, sender="catalog.Product")
def product_saved(sender, instance, created, **kwargs):
    current_app().queue_handle().enqueue_sync(reindex_product(instance.pk))
