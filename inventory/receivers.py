"""Signal receivers of inventory: every product gets its stock item when it is made."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from catalog.models import Product
from catalog.signals import product_deleting

from . import services


@receiver(post_save, sender=Product, dispatch_uid="inventory_stock_item_for_new_product")
def stock_item_for_new_product(sender, instance, created, raw=False, **kwargs):
    """Make the stock item in the transaction that saves the product (API, admin, import)."""
    if created and not raw:
        services.stock_item_for_product(product=instance)


@receiver(product_deleting, dispatch_uid="inventory_stock_item_of_deleted_product")
def empty_stock_item_of_deleted_product(sender, product, **kwargs):
    """Remove the product's stock item if nothing ever happened to it (no ledger rows)."""
    services.stock_item_delete_if_unused(product=product)
