"""The demo loader stocks every demo product through the ledger, once."""

from io import StringIO

import pytest
from django.core.management import call_command

from inventory.models import StockAlert, StockItem, StockMovement
from inventory.selectors import stock_ledger_discrepancies

pytestmark = pytest.mark.django_db


def test_seed_demo_stocks_products_with_low_out_and_expiring_examples_once():
    call_command("seed_demo", stdout=StringIO())
    movements = StockMovement.objects.count()
    levels = dict(StockItem.objects.values_list("product__sku", "on_hand"))
    assert levels["COF-B1K-003"] == 0
    assert 0 < levels["TEA-003"] <= 5
    assert sum(1 for on_hand in levels.values() if on_hand > 5) >= 40
    kinds = set(StockAlert.objects.filter(state="open").values_list("kind", flat=True))
    assert kinds == {"low_stock", "out_of_stock", "batch_expiring"}
    assert stock_ledger_discrepancies() == []

    call_command("seed_demo", stdout=StringIO())
    assert StockMovement.objects.count() == movements
    assert dict(StockItem.objects.values_list("product__sku", "on_hand")) == levels
