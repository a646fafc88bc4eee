"""Concurrent checkouts on PostgreSQL: stock is never oversold and keys are honoured once."""

import threading
import uuid

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from inventory import selectors as inventory_selectors
from orders import services
from orders.models import Order
from tests.factories import UserFactory
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")


def _run_in_threads(count, target):
    barrier = threading.Barrier(count)
    results = [None] * count

    def run(i):
        try:
            barrier.wait()
            results[i] = target(i)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def _checkout(user, key):
    client = APIClient()
    client.force_authenticate(user=user)
    response = client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS},
        format="json",
        headers={"Idempotency-Key": key},
    )
    return response.status_code, response.json()


def test_concurrent_checkouts_never_oversell():
    a, b = stocked_product(on_hand=7), stocked_product(on_hand=30)
    users = [UserFactory() for _ in range(12)]
    for user in users:
        cart = services.cart_get_or_create(user=user)
        services.cart_item_add(cart=cart, product_id=a.pk, quantity=1)
        services.cart_item_add(cart=cart, product_id=b.pk, quantity=2)

    results = _run_in_threads(len(users), lambda i: _checkout(users[i], uuid.uuid4().hex))

    statuses = sorted(status for status, _ in results)
    assert statuses == [201] * 7 + [409] * 5
    a.stock.refresh_from_db()
    assert (a.stock.on_hand, a.stock.reserved) == (7, 7)
    assert inventory_selectors.stock_available(product_ids=[a.pk, b.pk]) == {a.pk: 0, b.pk: 16}
    assert Order.objects.count() == 7
    assert inventory_selectors.stock_ledger_discrepancies() == []


def test_concurrent_retries_with_one_key_make_one_order():
    product = stocked_product(on_hand=10)
    user = UserFactory()
    cart = services.cart_get_or_create(user=user)
    services.cart_item_add(cart=cart, product_id=product.pk, quantity=2)

    results = _run_in_threads(6, lambda i: _checkout(user, "one-key"))

    assert sorted(status for status, _ in results) == [200] * 5 + [201]
    assert len({body["number"] for _, body in results}) == 1
    assert Order.objects.count() == 1
    assert inventory_selectors.stock_available(product_ids=[product.pk])[product.pk] == 8


def test_concurrent_checkouts_of_one_cart_with_different_keys_make_one_order():
    product = stocked_product(on_hand=10)
    user = UserFactory()
    cart = services.cart_get_or_create(user=user)
    services.cart_item_add(cart=cart, product_id=product.pk, quantity=2)

    results = _run_in_threads(4, lambda i: _checkout(user, f"key-{i}"))

    statuses = sorted(status for status, _ in results)
    assert statuses == [201, 400, 400, 400]
    assert {body["code"] for status, body in results if status == 400} == {"cart_empty"}
    assert Order.objects.count() == 1


def test_expiry_racing_a_payment_backs_off_and_the_payment_keeps_its_stock():
    from datetime import timedelta

    from django.db import transaction
    from django.utils import timezone

    from inventory import tasks as inventory_tasks
    from inventory.models import Reservation
    from orders.models import OrderStatus
    from tests.orders.factories import place_order

    product = stocked_product(on_hand=5)
    order = place_order(UserFactory(), {product: 2})
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))

    with transaction.atomic():  # a payment is being recorded: it holds the order row
        Order.objects.select_for_update().get(pk=order.pk)

        def expire(_):
            try:
                return inventory_tasks.reservations_release_expired()
            except Exception as exc:  # the task reports the references it could not expire
                return exc

        [outcome] = _run_in_threads(1, expire)
        assert isinstance(outcome, Exception) and order.number in str(outcome)
        assert Reservation.objects.get().state == "active"
        services.order_transition(order=order, to_status=OrderStatus.PAID)

    order.refresh_from_db()
    assert order.status == OrderStatus.PAID
    product.stock.refresh_from_db()
    assert (product.stock.on_hand, product.stock.reserved) == (3, 0)
    assert inventory_tasks.reservations_release_expired() == 0
    assert inventory_selectors.stock_ledger_discrepancies() == []
