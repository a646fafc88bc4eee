import pytest

from inventory import services
from tests.inventory.factories import StockItemFactory


@pytest.fixture
def stocked(db):
    """Return a function making a stock item with `on_hand` units received through the ledger."""

    def make(on_hand: int = 10, **fields):
        item = StockItemFactory(**fields)
        if on_hand:
            services.stock_receive(stock_item=item, quantity=on_hand, reference="initial")
        return item

    return make
