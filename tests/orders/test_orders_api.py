"""Order history, cancel and staff transitions through the API."""

import pytest

from inventory import selectors as inventory_selectors
from orders import services
from orders.models import OrderStatus
from tests.factories import UserFactory
from tests.helpers import field_errors
from tests.orders.factories import place_order, stocked_product

pytestmark = pytest.mark.django_db

S = OrderStatus


def test_list_shows_own_orders_newest_first(user_client, other_user, product):
    first = place_order(user_client.user, {product: 1})
    second = place_order(user_client.user, {product: 2})
    place_order(other_user, {product: 1})

    response = user_client.get("/api/v1/orders/")

    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2
    assert [o["number"] for o in body["results"]] == [second.number, first.number]
    assert body["results"][0]["item_count"] == 2
    assert body["results"][0]["total"] == str(second.total)


def test_list_filters_by_status(user_client, product):
    paid = place_order(user_client.user, {product: 1})
    place_order(user_client.user, {product: 1})
    services.order_transition(order=paid, to_status=S.PAID)
    body = user_client.get("/api/v1/orders/", {"status": "paid"}).json()
    assert [o["number"] for o in body["results"]] == [paid.number]
    response = user_client.get("/api/v1/orders/", {"status": "teleported"})
    assert response.status_code == 400
    assert "status" in field_errors(response)


def test_list_is_paginated(user_client, product):
    for _ in range(3):
        place_order(user_client.user, {product: 1})
    body = user_client.get("/api/v1/orders/", {"page_size": 2}).json()
    assert (body["count"], len(body["results"])) == (3, 2)
    assert body["next"] and body["previous"] is None


def test_staff_see_every_order_with_all_true(staff_client, user, other_user, product):
    place_order(user, {product: 1})
    place_order(other_user, {product: 1})
    assert staff_client.get("/api/v1/orders/").json()["count"] == 0
    assert staff_client.get("/api/v1/orders/", {"all": "true"}).json()["count"] == 2


def test_shoppers_cannot_list_every_order(user_client, other_user, product):
    place_order(other_user, {product: 1})
    assert user_client.get("/api/v1/orders/", {"all": "true"}).json()["count"] == 0


def test_detail_has_lines_totals_events_and_payments(user_client, product):
    order = place_order(user_client.user, {product: 2})
    body = user_client.get(f"/api/v1/orders/{order.number}/").json()
    assert body["number"] == order.number
    assert body["lines"] == [
        {
            "product": product.pk,
            "sku": product.sku,
            "name": product.name,
            "unit_price": "12.50",
            "quantity": 2,
            "line_total": "25.00",
        }
    ]
    assert (body["subtotal"], body["total"]) == ("25.00", str(order.total))
    assert body["events"][0]["status"] == "pending_payment"
    assert body["payments"] == []


def test_another_users_order_is_not_found(user_client, other_user, product):
    theirs = place_order(other_user, {product: 1})
    assert user_client.get(f"/api/v1/orders/{theirs.number}/").status_code == 404
    assert user_client.post(f"/api/v1/orders/{theirs.number}/cancel/").status_code == 404
    assert user_client.get("/api/v1/orders/NOPE-123/").status_code == 404


def test_staff_can_read_any_order(staff_client, user, product):
    order = place_order(user, {product: 1})
    assert staff_client.get(f"/api/v1/orders/{order.number}/").status_code == 200


def test_owner_cancels_an_unpaid_order_and_stock_returns(user_client, product):
    order = place_order(user_client.user, {product: 4})
    response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "cancelled"
    assert [e["status"] for e in body["events"]] == ["pending_payment", "cancelled"]
    assert inventory_selectors.stock_available(product_ids=[product.pk])[product.pk] == 10


def test_owner_cannot_cancel_a_paid_order(user_client, product):
    order = place_order(user_client.user, {product: 1})
    services.order_transition(order=order, to_status=S.PAID)
    response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_staff_move_an_order_along(staff_client, user, product):
    order = place_order(user, {product: 1})
    services.order_transition(order=order, to_status=S.PAID)
    url = f"/api/v1/orders/{order.number}/transition/"
    response = staff_client.post(url, {"status": "processing", "note": "Picking"})
    assert response.status_code == 200
    assert response.json()["status"] == "processing"
    assert response.json()["events"][-1] == {
        "status": "processing",
        "from_status": "paid",
        "at": response.json()["events"][-1]["at"],
        "note": "We are packing your order.",  # the shopper's words; "Picking" stays in the admin
    }


def test_staff_invalid_transition_is_a_conflict(staff_client, user, product):
    order = place_order(user, {product: 1})
    response = staff_client.post(
        f"/api/v1/orders/{order.number}/transition/", {"status": "shipped"}
    )
    assert response.status_code == 409
    assert response.json()["code"] == "invalid_transition"


def test_staff_transition_refuses_unknown_status(staff_client, user, product):
    order = place_order(user, {product: 1})
    response = staff_client.post(f"/api/v1/orders/{order.number}/transition/", {"status": "x"})
    assert response.status_code == 400
    assert "status" in field_errors(response)


def test_shopper_calling_the_staff_transition_is_forbidden(user_client, product):
    order = place_order(user_client.user, {product: 1})
    response = user_client.post(
        f"/api/v1/orders/{order.number}/transition/", {"status": "cancelled"}
    )
    assert response.status_code == 403
    order.refresh_from_db()
    assert order.status == S.PENDING_PAYMENT


def test_orders_need_a_signed_in_user(api_client):
    assert api_client.get("/api/v1/orders/").status_code == 401


def _orders_for(user, count, lines_each):
    products = [stocked_product(on_hand=1000) for _ in range(lines_each)]
    return [place_order(user, dict.fromkeys(products, 1)) for _ in range(count)]


def test_list_query_count_is_fixed_whatever_the_number_of_orders(
    user_client, django_assert_num_queries
):
    _orders_for(user_client.user, 2, 1)
    with django_assert_num_queries(2):  # count, page
        assert len(user_client.get("/api/v1/orders/").json()["results"]) == 2
    _orders_for(user_client.user, 10, 3)
    with django_assert_num_queries(2):
        assert len(user_client.get("/api/v1/orders/").json()["results"]) == 12


def test_staff_list_query_count_is_fixed(staff_client, django_assert_num_queries):
    for _ in range(2):
        _orders_for(UserFactory(), 1, 2)
    with django_assert_num_queries(2):
        assert staff_client.get("/api/v1/orders/?all=true").json()["count"] == 2
    for _ in range(6):
        _orders_for(UserFactory(), 2, 2)
    with django_assert_num_queries(2):
        assert staff_client.get("/api/v1/orders/?all=true").json()["count"] == 14


def _detail_queries(payments_model_exists: bool) -> int:
    # order (with user), lines, events (with actors), and payments once that app has its model
    return 4 if payments_model_exists else 3


def test_detail_query_count_is_fixed_whatever_the_number_of_lines(
    user_client, django_assert_num_queries
):
    from orders.models import Order

    expected = _detail_queries(hasattr(Order, "payments"))
    [small] = _orders_for(user_client.user, 1, 1)
    with django_assert_num_queries(expected):
        user_client.get(f"/api/v1/orders/{small.number}/")
    [large] = _orders_for(user_client.user, 1, 12)
    for step in (S.PAID, S.PROCESSING, S.SHIPPED):
        services.order_transition(order=large, to_status=step)
    with django_assert_num_queries(expected):
        body = user_client.get(f"/api/v1/orders/{large.number}/").json()
    assert (len(body["lines"]), len(body["events"])) == (12, 4)
