"""`manage.py check_stock` finds counters that drifted from the ledger."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from inventory import services
from inventory.models import StockItem

pytestmark = pytest.mark.django_db


def test_check_stock_passes_after_every_kind_of_movement(stocked):
    item = stocked(on_hand=10)
    soon = timezone.now() + timedelta(minutes=5)
    services.stock_adjust(stock_item=item, delta=-1, reason="count")
    services.stock_reserve(lines={item.product_id: 3}, reference="R-1", expires_at=soon)
    services.stock_reserve(lines={item.product_id: 2}, reference="R-2", expires_at=soon)
    services.stock_reserve(lines={item.product_id: 1}, reference="R-3", expires_at=soon)
    services.reservations_commit(reference="R-1")
    services.reservations_release(reference="R-2")
    services.stock_return(lines={item.product_id: 1}, reference="R-1")
    out = StringIO()
    call_command("check_stock", stdout=out)
    assert "agree" in out.getvalue()


def test_check_stock_fails_and_names_each_drifted_item(stocked):
    fine, drifted, orphan_reserved = stocked(on_hand=3), stocked(on_hand=3), stocked(on_hand=3)
    StockItem.objects.filter(pk=drifted.pk).update(on_hand=5)
    StockItem.objects.filter(pk=orphan_reserved.pk).update(reserved=1)
    err = StringIO()
    with pytest.raises(CommandError) as info:
        call_command("check_stock", stderr=err)
    assert f"stock item {drifted.pk} " in err.getvalue()
    assert f"stock item {orphan_reserved.pk} " in err.getvalue()
    assert f"stock item {fine.pk} " not in err.getvalue()
    assert "2 stock item(s)" in str(info.value)
