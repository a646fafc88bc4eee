"""Admin: stock levels, receive/adjust pages, a ledger nobody can edit, alerts to acknowledge."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import StockAlert, StockItem, StockMovement
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, staff_user):
    client.force_login(staff_user)
    return client


def test_stock_list_and_page_show_levels_and_the_ledger(admin_client, stocked):
    item = stocked(on_hand=7)
    services.stock_adjust(stock_item=item, delta=-2, reason="breakage in aisle 3")
    listing = admin_client.get("/admin/inventory/stockitem/")
    assert listing.status_code == 200
    assert item.product.sku in listing.content.decode()
    page = admin_client.get(f"/admin/inventory/stockitem/{item.pk}/change/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "breakage in aisle 3" in html
    assert f"/admin/inventory/stockitem/{item.pk}/receive/" in html


def test_receive_page_puts_units_on_hand(admin_client, stocked, staff_user):
    item = stocked(on_hand=1)
    url = f"/admin/inventory/stockitem/{item.pk}/receive/"
    assert admin_client.get(url).status_code == 200
    response = admin_client.post(
        url, {"quantity": 9, "batch_number": "L-1", "expires_on": "2031-05-01"}, follow=True
    )
    assert "Received 9 unit(s)." in response.content.decode()
    item.refresh_from_db()
    assert item.on_hand == 10
    assert StockMovement.objects.filter(kind="receipt", actor=staff_user).count() == 1


def test_receive_page_shows_field_errors_and_writes_nothing(admin_client, stocked):
    item = stocked(on_hand=1)
    response = admin_client.post(f"/admin/inventory/stockitem/{item.pk}/receive/", {"quantity": 0})
    assert response.status_code == 200
    assert "errorlist" in response.content.decode()
    assert StockMovement.objects.count() == 1


def test_adjust_page_refuses_going_below_reserved(admin_client, stocked):
    item = stocked(on_hand=3)
    services.stock_reserve(
        lines={item.product_id: 3},
        reference="O-1",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    response = admin_client.post(
        f"/admin/inventory/stockitem/{item.pk}/adjust/", {"delta": -1, "reason": "count"}
    )
    assert response.status_code == 200
    assert "less on hand than is reserved" in response.content.decode()
    item.refresh_from_db()
    assert item.on_hand == 3


def test_adding_a_stock_item_in_the_admin_sets_only_its_threshold(admin_client):
    product = ProductFactory()
    # A product made before every product got its stock item on creation.
    StockItem.objects.filter(product=product).delete()
    response = admin_client.post(
        "/admin/inventory/stockitem/add/", {"product": product.pk, "low_stock_threshold": 2}
    )
    assert response.status_code == 302
    item = StockItem.objects.get(product=product)
    assert (item.on_hand, item.low_stock_threshold) == (0, 2)


def test_the_ledger_cannot_be_edited_or_deleted_in_the_admin(admin_client, stocked):
    item = stocked(on_hand=1)
    movement = StockMovement.objects.get(stock_item=item)
    assert admin_client.get("/admin/inventory/stockmovement/").status_code == 200
    assert admin_client.get("/admin/inventory/stockmovement/add/").status_code == 403
    assert (
        admin_client.post(f"/admin/inventory/stockmovement/{movement.pk}/delete/").status_code
        == 403
    )
    admin_client.post(
        f"/admin/inventory/stockmovement/{movement.pk}/change/", {"delta_on_hand": 99}
    )
    assert StockMovement.objects.get(pk=movement.pk).delta_on_hand == 1


def test_alerts_can_be_acknowledged_from_the_list(admin_client, stocked):
    item = stocked(on_hand=0)
    services.stock_alerts_evaluate()
    ids = list(StockAlert.objects.filter(stock_item=item).values_list("pk", flat=True))
    response = admin_client.post(
        "/admin/inventory/stockalert/",
        {"action": "acknowledge", "_selected_action": ids},
        follow=True,
    )
    assert "2 alert(s) acknowledged." in response.content.decode()
    assert set(StockAlert.objects.values_list("state", flat=True)) == {"acknowledged"}


@pytest.mark.parametrize("model", ["stockalert", "reservation", "batch", "stockmovement"])
def test_inventory_lists_open_in_the_admin(admin_client, stocked, model):
    item = stocked(on_hand=0)
    services.stock_receive(stock_item=item, quantity=1, batch_number="B-7")
    services.stock_alerts_evaluate()
    services.stock_reserve(
        lines={item.product_id: 1},
        reference="O-9",
        expires_at=timezone.now() + timedelta(minutes=5),
    )
    response = admin_client.get(f"/admin/inventory/{model}/")
    assert response.status_code == 200
    if model == "stockalert":
        assert item.product.name in response.content.decode()
