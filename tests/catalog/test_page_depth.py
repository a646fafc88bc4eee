"""No query grows with the page number: a deep page costs what the first one does.

The count is bounded (CATALOG_COUNT_LIMIT) and so is the OFFSET (pages past the cap are not
served), so page 40 runs the same queries as page 1, only with another OFFSET.
"""

import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from catalog.models import Product
from inventory.models import StockItem
from tests.factories import CategoryFactory

pytestmark = pytest.mark.django_db

PAGE_SIZE = 24  # the shop page's
DEEP = 40


@pytest.fixture
def catalogue(db):
    category = CategoryFactory(slug="beans")
    products = Product.objects.bulk_create(
        Product(
            sku=f"D-{i:05d}",
            slug=f"deep-{i}",
            name=f"Deep product {i:05d}",
            price=Decimal(1 + i % 50),
            category=category,
        )
        for i in range(PAGE_SIZE * DEEP + 5)
    )
    StockItem.objects.bulk_create(StockItem(product=p, on_hand=3) for p in products)
    return products


def _queries(client, url, params):
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url, params)
    assert response.status_code == 200
    return response, [q["sql"] for q in ctx.captured_queries]


def _shape(sql: str) -> str:
    """The statement without its OFFSET (page 1 has none): LIMITs and all else must match."""
    return re.sub(r" OFFSET \d+", "", sql)


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"category": "beans", "min_price": "2", "in_stock": "true", "ordering": "-price"},
        {"search": "deep"},
    ],
    ids=["all", "filtered", "search"],
)
def test_api_list_deep_page_makes_the_same_queries(api_client, catalogue, params):
    first, page_one = _queries(api_client, "/api/v1/products/", {**params, "page_size": 2})
    deep, page_deep = _queries(
        api_client, "/api/v1/products/", {**params, "page_size": 2, "page": DEEP}
    )
    assert len(first.json()["results"]) == len(deep.json()["results"]) == 2
    assert first.json()["results"] != deep.json()["results"]
    assert len(page_deep) == len(page_one)
    assert [_shape(s) for s in page_deep] == [_shape(s) for s in page_one]
    assert any(f"OFFSET {2 * (DEEP - 1)}" in s for s in page_deep)


@pytest.mark.parametrize(
    "params",
    [{}, {"category": "beans", "in_stock": "on", "ordering": "name"}, {"search": "deep"}],
    ids=["all", "filtered", "search"],
)
def test_list_page_deep_page_makes_the_same_queries(client, catalogue, params):
    first, page_one = _queries(client, "/", params)
    deep, page_deep = _queries(client, "/", {**params, "page": DEEP})
    assert "Page 1 of" in first.content.decode()
    assert f"Page {DEEP} of" in deep.content.decode()
    assert deep.content.decode().count('class="product-card"') == PAGE_SIZE
    assert len(page_deep) == len(page_one)
    assert [_shape(s) for s in page_deep] == [_shape(s) for s in page_one]
