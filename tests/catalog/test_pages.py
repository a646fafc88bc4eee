import pytest

from inventory.models import StockItem
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db


def test_shop_front_lists_products_with_search_and_pagination(client):
    ProductFactory.create_batch(30, name="Bean bag")
    ProductFactory(name="Moka pot")
    page = client.get("/")
    assert page.status_code == 200
    assert b"31 products" in page.content
    assert b'rel="next"' in page.content
    found = client.get("/", {"search": "moka"})
    assert b"1 product<" in found.content
    assert b"Moka pot" in found.content


def test_shop_front_filters_by_category_and_shows_stock(client):
    tea = CategoryFactory(name="Tea", slug="tea")
    product = ProductFactory(name="Sencha", category=tea)
    StockItem.objects.filter(product=product).update(on_hand=4)
    ProductFactory(name="Kettle")
    page = client.get("/", {"category": "tea"})
    assert b"Sencha" in page.content
    assert b"Kettle" not in page.content
    assert b"In stock" in page.content


def test_bad_filters_show_an_error_next_to_the_field(client):
    page = client.get("/", {"min_price": "cheap", "category": "nope"})
    assert page.status_code == 200
    assert b"Enter a number." in page.content
    assert b"Unknown category." in page.content


def test_product_page_shows_price_and_availability(client):
    product = ProductFactory(name="Burr grinder", price="149.00")
    StockItem.objects.filter(product=product).update(on_hand=5, reserved=2)
    page = client.get(f"/products/{product.slug}/")
    assert page.status_code == 200
    assert b"Burr grinder" in page.content
    assert b"149.00" in page.content
    assert b"3 available" in page.content


def test_inactive_product_page_is_404_for_shoppers_and_visible_to_staff(client, staff_user):
    product = ProductFactory(active=False)
    assert client.get(f"/products/{product.slug}/").status_code == 404
    client.force_login(staff_user)
    assert client.get(f"/products/{product.slug}/").status_code == 200


def test_unknown_page_is_our_404(client):
    page = client.get("/products/does-not-exist/")
    assert page.status_code == 404
    assert b"Page not found" in page.content
