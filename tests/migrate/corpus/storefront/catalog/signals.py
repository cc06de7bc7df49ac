from django.db.models.signals import post_save
from django.dispatch import receiver

from storefront.catalog.tasks import reindex_product


@receiver(post_save, sender="catalog.Product")
def product_saved(sender, instance, created, **kwargs):
    reindex_product.delay(instance.pk)
