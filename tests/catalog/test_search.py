"""Product search on the shop front and in the API: forgiving on PostgreSQL, plain on SQLite."""

import pytest
from django.db import connection

from catalog import services
from catalog.models import SearchTerm
from tests.factories import CategoryFactory, ProductFactory

pytestmark = pytest.mark.django_db
LIST = "/api/v1/products/"


@pytest.fixture
def postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("full-text and trigram search need PostgreSQL")


@pytest.fixture
def catalogue(db):
    coffee = CategoryFactory(name="Coffee", slug="coffee")
    gear = CategoryFactory(name="Equipment", slug="equipment")
    products = {
        "kenya": ProductFactory(
            name="Kenya whole beans 250 g", category=coffee, description="Bright and fruity."
        ),
        "ethiopia": ProductFactory(
            name="Ethiopia ground coffee", category=coffee, description="Notes of Kenya berries."
        ),
        "espresso": ProductFactory(name="Espresso machine", category=gear, description=""),
        "grinder": ProductFactory(name="Burr grinder", category=gear, description="Steel burrs."),
    }
    return products


def _names(response) -> list[str]:
    return [product["name"] for product in response.json()["results"]]


def test_words_in_any_order_find_the_product(api_client, catalogue):
    assert _names(api_client.get(LIST, {"search": "beans kenya"})) == ["Kenya whole beans 250 g"]
    assert _names(api_client.get(LIST, {"search": "KENYA Whole"})) == ["Kenya whole beans 250 g"]


def test_a_match_in_the_name_ranks_above_one_in_the_description(
    postgres_only, api_client, catalogue
):
    names = _names(api_client.get(LIST, {"search": "kenya"}))
    assert names == ["Kenya whole beans 250 g", "Ethiopia ground coffee"]


def test_typos_still_find_the_product(postgres_only, api_client, catalogue):
    assert _names(api_client.get(LIST, {"search": "kenia beans"})) == ["Kenya whole beans 250 g"]
    assert _names(api_client.get(LIST, {"search": "expresso"})) == ["Espresso machine"]
    assert _names(api_client.get(LIST, {"search": "grnder"})) == ["Burr grinder"]


def test_new_and_renamed_products_feed_the_typo_vocabulary(postgres_only, api_client):
    product = services.product_create(sku="GU-1", name="Guatemala beans", price="9.00")
    assert SearchTerm.objects.filter(word="guatemala").exists()
    services.product_update(product=product, name="Honduras beans")
    assert SearchTerm.objects.filter(word="honduras").exists()
    assert _names(api_client.get(LIST, {"search": "hondura"})) == ["Honduras beans"]


def test_search_combines_with_filters_and_an_explicit_ordering_wins(api_client, catalogue):
    response = api_client.get(LIST, {"search": "coffee", "category": "equipment"})
    assert _names(response) == []
    response = api_client.get(LIST, {"search": "e", "ordering": "name"})
    assert response.status_code == 200


def test_page_heads_results_with_the_search_and_has_one_search_box(client, catalogue):
    page = client.get("/", {"search": "grinder"}).content.decode()
    assert "Results for “grinder”" in page
    assert "Burr grinder" in page
    assert page.count('type="search"') == 1


def test_no_results_page_suggests_close_matches_and_categories(client, catalogue):
    page = client.get("/", {"search": "grindr machne xyz"}).content.decode()
    assert 'data-testid="no-results"' in page
    assert "Nothing matches “grindr machne xyz”" in page
    assert 'href="/?category=coffee"' in page and 'href="/?category=equipment"' in page


def test_no_results_page_names_close_products_on_postgres(postgres_only, client, catalogue):
    page = client.get("/", {"search": "burr grindet steel x"}).content.decode()
    assert 'data-testid="suggestions"' in page and "Burr grinder" in page


def test_search_query_count_is_fixed(api_client, client, catalogue, django_assert_num_queries):
    # vocabulary look-up (PostgreSQL) + count + page
    expected = 3 if connection.vendor == "postgresql" else 2
    with django_assert_num_queries(expected):
        assert api_client.get(LIST, {"search": "kenya", "page_size": 50}).status_code == 200
    # the page adds the category list
    with django_assert_num_queries(expected + 1):
        assert client.get("/", {"search": "kenya"}).status_code == 200
