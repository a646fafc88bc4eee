"""The shop's catalogue pages make a fixed number of queries, pinned here.

Product list, for a visitor (3): the bounded count, the page of products (category and
stock joined), the category list for the filters. Filtered by category, two more: the
category by slug and one read of the tree. A search (PostgreSQL) adds the read of look-alike
words that corrects typos. A signed-in shopper adds the session, the user and the header's
cart count (3 more). Product page: the product with its category and stock (1), plus the
same 3 for a shopper. None of these grows with the number of products shown.
"""

import pytest
from django.db import connection

from inventory.models import StockItem
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db

LIST_PAGE = 3
LIST_PAGE_BY_CATEGORY = LIST_PAGE + 2
SEARCH_CORRECTIONS = 1 if connection.vendor == "postgresql" else 0
SHOPPER = 3  # session, user, the header's cart count
PRODUCT_PAGE = 1


@pytest.fixture
def shopper(client, user):
    client.force_login(user)
    client.get("/")  # the session is warm, as on any later request
    return client


@pytest.fixture
def tea(db):
    category = CategoryFactory(name="Tea", slug="tea")
    CategoryFactory(name="Green tea", slug="green-tea", parent=category)
    return category


def _products(count, **fields):
    products = ProductFactory.create_batch(count, **fields)
    StockItem.objects.filter(product__in=products).update(on_hand=5)
    return products


@pytest.mark.parametrize("count", [2, 30])
def test_product_list_page_for_a_visitor(client, tea, count, django_assert_num_queries):
    _products(count, category=tea, name="Sencha")
    with django_assert_num_queries(LIST_PAGE):
        page = client.get("/")
    assert page.status_code == 200
    assert page.content.decode().count('class="product-card"') == min(count, 24)


@pytest.mark.parametrize("count", [2, 30])
def test_product_list_page_filtered_and_sorted(client, tea, count, django_assert_num_queries):
    _products(count, category=tea, name="Sencha")
    query = {"category": "tea", "min_price": "1", "in_stock": "on", "ordering": "-price"}
    with django_assert_num_queries(LIST_PAGE_BY_CATEGORY):
        page = client.get("/", query)
    assert page.content.decode().count('class="product-card"') == min(count, 24)


def test_product_list_page_search(client, tea, django_assert_num_queries):
    _products(30, category=tea, name="Sencha green tea")
    with django_assert_num_queries(LIST_PAGE + SEARCH_CORRECTIONS):
        page = client.get("/", {"search": "sencha"})
    assert page.content.decode().count('class="product-card"') == 24


@pytest.mark.parametrize("count", [2, 30])
def test_product_list_page_for_a_shopper(shopper, tea, count, django_assert_num_queries):
    _products(count, category=tea)
    with django_assert_num_queries(LIST_PAGE + SHOPPER):
        page = shopper.get("/")
    assert page.content.decode().count('class="product-card"') == min(count, 24)


def test_product_page(client, tea, django_assert_num_queries):
    product = _products(1, category=tea, name="Gyokuro")[0]
    with django_assert_num_queries(PRODUCT_PAGE):
        page = client.get(f"/products/{product.slug}/")
    assert b"Gyokuro" in page.content and b"5 available" in page.content


def test_product_page_for_a_shopper(shopper, tea, django_assert_num_queries):
    product = _products(1, category=tea, name="Gyokuro")[0]
    with django_assert_num_queries(PRODUCT_PAGE + SHOPPER):
        page = shopper.get(f"/products/{product.slug}/")
    assert b'action="/cart/add/"' in page.content
