"""Statements of the other hot paths, pinned (PostgreSQL; BEGIN/COMMIT are the test's
SAVEPOINT/RELEASE, the same count).

Add to cart (6): the cart (one SELECT), BEGIN, the cart row locked by touching it (UPDATE),
the product with its available stock and the line already in the cart (one SELECT), the
line's INSERT or UPDATE, COMMIT. A refusal (short stock, unknown product) takes the same
reads and rolls the touch back. Order list (2: count, page) and detail (4: order, lines,
events, payments) are pinned in test_orders_api.py. Payment start: see PAYMENT_START.
"""

import uuid

import pytest
from django.db import connection

from orders.models import CartItem
from tests.helpers import field_errors
from tests.orders.factories import place_order, stocked_product

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement counts"),
]

ADD_TO_CART = 6
# Payment start, dummy direct card, charged and settled in the request: 46 statements. The
# order row alone (nothing prefetched); phase 1 (BEGIN, the order locked once, this key's
# payment and the open one in one read, the in-progress mark, the user and 4 counts for the
# fraud rules, the payment and its fraud check, COMMIT); the dummy provider's own records
# (its side of the call: an HTTP request for Stripe); phase 3 (the payment and order locked,
# the result, the reservations committed with a ledger row, the order paid with its event,
# the tasks into the outbox, COMMIT); the answer. Was 51 with the order's lines, events and
# payments prefetched for nothing, the order locked twice and two payment reads.
PAYMENT_START = 46


def _add(client, product, quantity=1):
    return client.post(
        "/api/v1/cart/items/", {"product": product.pk, "quantity": quantity}, format="json"
    )


def test_add_to_cart_new_line_and_again(user_client, django_assert_num_queries):
    product = stocked_product(on_hand=5, price="4.00")
    _add(user_client, stocked_product())  # the cart exists
    with django_assert_num_queries(ADD_TO_CART):
        first = _add(user_client, product, 2)
    with django_assert_num_queries(ADD_TO_CART):
        again = _add(user_client, product, 1)
    assert (first.status_code, again.status_code) == (201, 201)
    assert again.json()["id"] == first.json()["id"]
    assert (again.json()["quantity"], again.json()["line_total"]) == (3, "12.00")
    assert CartItem.objects.get(pk=first.json()["id"]).quantity == 3


@pytest.mark.django_db(transaction=True)  # a real BEGIN ... ROLLBACK
def test_add_to_cart_beyond_stock_is_refused_without_a_write(
    user, user_client, django_assert_num_queries
):
    product = stocked_product(on_hand=2)
    _add(user_client, product, 2)
    cart = user.cart
    cart.refresh_from_db()
    touched = cart.updated_at
    with django_assert_num_queries(ADD_TO_CART - 1):
        response = _add(user_client, product, 1)
    assert response.status_code == 400
    assert "Only 2" in field_errors(response)["quantity"][0]
    cart.refresh_from_db()
    assert cart.updated_at == touched  # the touch rolled back
    assert CartItem.objects.get(cart=cart).quantity == 2


def test_payment_start_with_the_dummy_card(user, user_client, django_assert_num_queries):
    from tests.payments.factories import CARD_OK

    order = place_order(user, {stocked_product(on_hand=5): 1})
    with django_assert_num_queries(PAYMENT_START):
        response = user_client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy", "card_number": CARD_OK},
            format="json",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
    assert response.status_code == 201, response.json()
