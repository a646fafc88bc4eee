"""Factories for inventory tests."""

import factory

from inventory.models import StockItem
from tests.factories import ProductFactory


class StockItemFactory(factory.django.DjangoModelFactory):
    """An empty stock item; put units on it with inventory.services.stock_receive."""

    class Meta:
        model = StockItem

    product = factory.SubFactory(ProductFactory)
    low_stock_threshold = 5

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """Every product already has its (empty) stock item: take it and set the fields."""
        product = kwargs.pop("product")
        item, _ = model_class.objects.update_or_create(product=product, defaults=kwargs)
        return item
