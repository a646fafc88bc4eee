"""Every product has its stock item: made with the product, or through POST /inventory/stock/."""

import pytest
from rest_framework.test import APIClient

from catalog.models import Product
from inventory.models import StockItem
from tests.factories import ProductFactory
from tests.helpers import error_code, field_errors
from tests.reports.factories import staff_with

pytestmark = pytest.mark.django_db

URL = "/api/v1/inventory/stock/"


def client_for(user):
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def warehouse(db):
    return client_for(staff_with("inventory.view_stockitem", "inventory.adjust_stock"))


def test_a_product_made_through_the_api_has_its_stock_item(staff_client):
    response = staff_client.post(
        "/api/v1/products/", {"sku": "NEW-1", "name": "Kettle", "price": "20.00"}, format="json"
    )
    assert response.status_code == 201
    item = StockItem.objects.get(product__sku="NEW-1")
    assert (item.on_hand, item.reserved) == (0, 0)


def test_a_product_made_in_the_admin_has_its_stock_item(db):
    from django.test import Client

    admin = Client()
    admin.force_login(staff_with("catalog.add_product", "catalog.view_product"))
    response = admin.post(
        "/admin/catalog/product/add/",
        {"sku": "ADM-1", "slug": "adm-1", "name": "Admin kettle", "price": "9.00", "active": "on"},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    assert StockItem.objects.filter(product__sku="ADM-1").exists()


def test_stock_item_is_made_for_a_product_without_one(warehouse):
    product = ProductFactory()
    StockItem.objects.filter(product=product).delete()  # made before products got one

    response = warehouse.post(URL, {"product": product.pk, "low_stock_threshold": 3})

    assert response.status_code == 201
    body = response.json()
    assert (body["product"], body["on_hand"], body["low_stock_threshold"]) == (product.pk, 0, 3)
    assert StockItem.objects.filter(product=product).count() == 1


def test_a_second_stock_item_is_a_409_with_a_code(warehouse):
    product = ProductFactory()
    response = warehouse.post(URL, {"product": product.pk})
    assert (response.status_code, error_code(response)) == (409, "stock_item_exists")
    assert StockItem.objects.filter(product=product).count() == 1


@pytest.mark.parametrize("product", ["", "abc", 999999, -1])
def test_unknown_product_is_a_400(warehouse, product):
    response = warehouse.post(URL, {"product": product})
    assert response.status_code == 400
    assert "product" in field_errors(response)


def test_making_stock_items_needs_the_adjust_stock_right(db):
    product = ProductFactory()
    StockItem.objects.filter(product=product).delete()
    viewer = client_for(staff_with("inventory.view_stockitem"))
    response = viewer.post(URL, {"product": product.pk})
    assert (response.status_code, error_code(response)) == (403, "permission_denied")
    assert APIClient().post(URL, {"product": product.pk}).status_code == 401
    assert not StockItem.objects.filter(product=product).exists()


def test_deleting_a_product_without_stock_history_removes_its_empty_stock_item(staff_client):
    product = ProductFactory()
    assert staff_client.delete(f"/api/v1/products/{product.slug}/").status_code == 204
    assert not Product.objects.filter(pk=product.pk).exists()
    assert not StockItem.objects.filter(product_id=product.pk).exists()
