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
