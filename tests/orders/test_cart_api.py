"""The signed-in shopper's cart through the API."""

import pytest

from tests.factories import ProductFactory
from tests.helpers import field_errors
from tests.orders.factories import stocked_product

pytestmark = pytest.mark.django_db


def test_empty_cart_has_no_items_and_zero_subtotal(user_client, settings):
    settings.SHIPPING_FREE_OVER = "50.00"  # no shipping methods: the flat rate's threshold
    response = user_client.get("/api/v1/cart/")
    assert response.status_code == 200
    assert response.json() == {"items": [], "subtotal": "0.00", "free_shipping_remaining": "50.00"}


def test_added_product_shows_in_cart_with_price_and_line_total(user_client, product):
    response = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 3})
    assert response.status_code == 201
    assert response.json()["quantity"] == 3

    cart = user_client.get("/api/v1/cart/").json()
    assert cart["subtotal"] == "37.50"
    [item] = cart["items"]
    assert item["product"] == product.pk
    assert (item["unit_price"], item["line_total"]) == ("12.50", "37.50")


def test_adding_a_product_already_in_cart_adds_to_its_quantity(user_client, product):
    user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 2})
    response = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 3})
    assert response.status_code == 201
    items = user_client.get("/api/v1/cart/").json()["items"]
    assert [(i["product"], i["quantity"]) for i in items] == [(product.pk, 5)]


def test_adding_more_than_available_is_refused_on_quantity(user_client, product):
    user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 8})
    response = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 3})
    assert response.status_code == 400
    assert "Only 10" in field_errors(response)["quantity"][0]
    assert user_client.get("/api/v1/cart/").json()["items"][0]["quantity"] == 8


def test_out_of_stock_product_cannot_be_added(user_client):
    product = stocked_product(on_hand=0)
    response = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1})
    assert response.status_code == 400
    assert "out of stock" in field_errors(response)["quantity"][0]


@pytest.mark.parametrize("quantity", [0, -1, 1001, "many", None])
def test_bad_quantity_is_refused_with_the_field_named(user_client, product, quantity):
    response = user_client.post(
        "/api/v1/cart/items/", {"product": product.pk, "quantity": quantity}
    )
    assert response.status_code == 400
    assert "quantity" in field_errors(response)


def test_unknown_or_inactive_product_is_refused_with_the_field_named(user_client):
    inactive = ProductFactory(active=False)
    for product_id in (inactive.pk, 999999, "abc"):
        response = user_client.post("/api/v1/cart/items/", {"product": product_id, "quantity": 1})
        assert response.status_code == 400
        assert "product" in field_errors(response)


def test_quantity_can_be_changed_within_availability(user_client, product):
    item = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1}).json()
    response = user_client.patch(f"/api/v1/cart/items/{item['id']}/", {"quantity": 4})
    assert response.status_code == 200
    assert response.json()["quantity"] == 4
    response = user_client.patch(f"/api/v1/cart/items/{item['id']}/", {"quantity": 11})
    assert response.status_code == 400
    assert "quantity" in field_errors(response)
    response = user_client.patch(f"/api/v1/cart/items/{item['id']}/", {"quantity": 0})
    assert response.status_code == 400


def test_removed_item_leaves_the_cart(user_client, product):
    item = user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1}).json()
    assert user_client.delete(f"/api/v1/cart/items/{item['id']}/").status_code == 204
    assert user_client.get("/api/v1/cart/").json()["items"] == []


def test_another_users_cart_item_is_not_found(user_client, api_client, other_user, product):
    api_client.force_authenticate(user=other_user)
    theirs = api_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1}).json()
    assert (
        user_client.patch(f"/api/v1/cart/items/{theirs['id']}/", {"quantity": 2}).status_code == 404
    )
    assert user_client.delete(f"/api/v1/cart/items/{theirs['id']}/").status_code == 404


def test_cart_needs_a_signed_in_user(api_client):
    assert api_client.get("/api/v1/cart/").status_code == 401


def test_cart_query_count_does_not_grow_with_items(user_client, django_assert_max_num_queries):
    for _ in range(2):
        product = stocked_product(on_hand=5)
        user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1})
    user_client.get("/api/v1/cart/")  # the shipping methods (for free shipping) are cached now
    with django_assert_max_num_queries(2) as small:
        user_client.get("/api/v1/cart/")
    for _ in range(8):
        product = stocked_product(on_hand=5)
        user_client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1})
    with django_assert_max_num_queries(2) as large:
        assert len(user_client.get("/api/v1/cart/").json()["items"]) == 10
    assert len(small.captured_queries) == len(large.captured_queries)
