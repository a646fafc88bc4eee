"""The catalog shows what can still be bought: on_hand minus reserved."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def test_products_show_available_and_in_stock_filter_uses_it(api_client, stocked):
    partly = stocked(on_hand=5)
    all_reserved = stocked(on_hand=2)
    never_stocked = ProductFactory()
    services.stock_reserve(
        lines={partly.product_id: 1, all_reserved.product_id: 2},
        reference="ORD-1",
        expires_at=timezone.now() + timedelta(minutes=15),
    )

    listed = {
        p["id"]: p["available"] for p in api_client.get("/api/v1/products/").json()["results"]
    }
    assert listed == {partly.product_id: 4, all_reserved.product_id: 0, never_stocked.pk: 0}
    in_stock = api_client.get("/api/v1/products/", {"in_stock": "true"}).json()["results"]
    assert [p["id"] for p in in_stock] == [partly.product_id]
    detail = api_client.get(f"/api/v1/products/{partly.product.slug}/").json()
    assert detail["available"] == 4


def test_product_page_shows_available_units(client, stocked):
    item = stocked(on_hand=3)
    response = client.get(f"/products/{item.product.slug}/")
    assert response.status_code == 200
    assert "3 available" in response.content.decode()
