"""The admin names things by what people know and shows stock where products are listed."""

import json

import pytest
from django.test import Client

from inventory import services
from inventory.models import StockItem, StockMovement
from payments.models import WebhookEvent
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def stocked(name, on_hand, threshold=5):
    product = ProductFactory(name=name)
    item = StockItem.objects.get(product=product)
    services.stock_threshold_set(stock_item=item, low_stock_threshold=threshold)
    if on_hand:
        services.stock_receive(stock_item=item, quantity=on_hand)
    return product, item


def test_stock_items_and_ledger_rows_are_named_by_product_and_sku(admin_client):
    product, item = stocked("Burr grinder", 3)
    assert str(item) == f"Stock of Burr grinder ({product.sku})"
    page = admin_client.get(f"/admin/inventory/stockitem/{item.pk}/change/").content.decode()
    assert f"Stock of Burr grinder ({product.sku})" in page
    assert "Stock of product" not in page
    ledger = admin_client.get("/admin/inventory/stockmovement/").content.decode()
    assert f"Burr grinder ({product.sku})" in ledger and "+3 / +0" in ledger


def test_product_list_and_page_show_stock_with_a_link(admin_client):
    product, item = stocked("Kettle", 12)
    listing = admin_client.get("/admin/catalog/product/").content.decode()
    link = f'<a href="/admin/inventory/stockitem/{item.pk}/change/">12 on hand · 12 available</a>'
    assert link in listing
    page = admin_client.get(f"/admin/catalog/product/{product.pk}/change/").content.decode()
    assert link in page


@pytest.mark.parametrize(
    ("url", "name_of"),
    [
        ("/admin/catalog/product/", lambda p, i: p.name),
        ("/admin/inventory/stockitem/", lambda p, i: str(i)),
    ],
)
def test_low_and_out_of_stock_filters(admin_client, url, name_of):
    out = stocked("Outie", 0)
    low = stocked("Lowly", 3)
    plenty = stocked("Plenty", 50)
    pairs = (("out", out), ("low", low), ("in", plenty))
    shown = {}
    for value in ("out", "low", "in"):
        html = admin_client.get(url, {"stock": value}).content.decode()
        shown[value] = {key for key, pair in pairs if name_of(*pair) in html}
    assert shown == {"out": {"out"}, "low": {"low"}, "in": {"in"}}


def test_product_list_query_count_does_not_grow_with_products(
    admin_client, django_assert_max_num_queries
):
    for n in range(5):
        stocked(f"P{n}", n)
    with django_assert_max_num_queries(12) as captured:
        admin_client.get("/admin/catalog/product/")
    few = len(captured)
    for n in range(10):
        stocked(f"Q{n}", n)
    with django_assert_max_num_queries(few):
        admin_client.get("/admin/catalog/product/")


def test_webhook_body_is_pretty_printed(admin_client):
    body = {"id": "evt_1", "type": "payment.succeeded", "data": {"payment": "pay_1"}}
    event = WebhookEvent.objects.create(
        gateway="dummy", event_id="evt_1", type="payment.succeeded", raw_body=json.dumps(body)
    )
    page = admin_client.get(f"/admin/payments/webhookevent/{event.pk}/change/").content.decode()
    assert '<pre class="webhook-body">{\n  &quot;data&quot;: {\n' in page


def test_ledger_row_names_its_product(db):
    product, item = stocked("Tamper", 2)
    movement = StockMovement.objects.get(stock_item=item)
    assert str(movement) == f"Receipt +2/+0 · Tamper ({product.sku})"
