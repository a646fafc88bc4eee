"""Two devices on one cart, on PostgreSQL with real threads: no 500, no deadlock.

Every cart write locks the cart row first, then its lines (orders.services.carts._cart_lock).
Before that, a double click on "add to cart" inserted the new line twice (unique violation,
500), and an add locking its line while a checkout held the cart row deadlocked.
"""

import threading
import uuid

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from orders import services
from orders.models import CartItem, Order
from tests.factories import UserFactory
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

ROUNDS = 12


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def _race(*targets):
    """Run the callables at once (one thread each); return their results or exceptions."""
    barrier = threading.Barrier(len(targets))
    results = [None] * len(targets)

    def run(i):
        try:
            barrier.wait()
            results[i] = targets[i]()
        except Exception as exc:  # a deadlock or a unique violation surfaces here
            results[i] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(targets))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _client(user):
    client = APIClient()
    client.force_authenticate(user=user)
    return client


def _status(response):
    return response.status_code


def test_concurrent_adds_of_one_new_product_sum_their_quantities():
    product = stocked_product(on_hand=50)
    user = UserFactory()
    for round_ in range(3):
        CartItem.objects.filter(cart__user=user).delete()

        def add():
            response = _client(user).post(
                "/api/v1/cart/items/", {"product": product.pk, "quantity": 2}, format="json"
            )
            return response.status_code

        results = _race(*[add] * 5)

        assert results == [201] * 5, f"round {round_}: {results}"
        assert CartItem.objects.get(cart__user=user, product=product).quantity == 10


def test_adding_updating_merging_and_checking_out_on_two_devices_never_deadlocks():
    kept, added, merged = (stocked_product(on_hand=1000) for _ in range(3))
    failures = []
    for round_ in range(ROUNDS):
        user = UserFactory()
        cart = services.cart_get_or_create(user=user)
        line = services.cart_item_add(cart=cart, product_id=kept.pk, quantity=1)
        services.cart_item_add(cart=cart, product_id=added.pk, quantity=1)
        guest = services.cart_get_or_create()
        services.cart_item_add(cart=guest, product_id=merged.pk, quantity=1)
        services.cart_item_add(cart=guest, product_id=kept.pk, quantity=1)

        def add_on_phone(user=user):
            return _status(
                _client(user).post(
                    "/api/v1/cart/items/", {"product": added.pk, "quantity": 1}, format="json"
                )
            )

        def update_on_laptop(user=user, line=line):
            return _status(_client(user).patch(f"/api/v1/cart/items/{line.pk}/", {"quantity": 3}))

        def check_out_on_laptop(user=user):
            return _status(
                _client(user).post(
                    "/api/v1/orders/",
                    {"shipping_address": ADDRESS},
                    format="json",
                    headers={"Idempotency-Key": uuid.uuid4().hex},
                )
            )

        def log_in_on_tablet(user=user, guest=guest):
            services.cart_merge_guest_into_user(guest_cart_id=guest.pk, user=user)
            return "merged"

        results = _race(add_on_phone, update_on_laptop, check_out_on_laptop, log_in_on_tablet)

        add_status, update_status, checkout_status, merge_result = results
        if not (
            add_status in (200, 201)
            and update_status in (200, 404)  # 404: the checkout emptied the cart first
            and checkout_status == 201
            and merge_result == "merged"
        ):
            failures.append(f"round {round_}: {results}")
            continue
        # Whatever did not make it into the order is still in the cart: nothing was lost.
        order = Order.objects.get(user=user)
        ordered = {line.product_id: line.quantity for line in order.lines.all()}
        in_cart = {
            item.product_id: item.quantity for item in CartItem.objects.filter(cart__user=user)
        }
        assert ordered.get(added.pk, 0) + in_cart.get(added.pk, 0) == 2, results
        assert ordered.get(merged.pk, 0) + in_cart.get(merged.pk, 0) == 1, results

    assert not failures, "\n".join(failures)
