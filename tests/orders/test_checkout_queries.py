"""Checkout at the floor: the statements of a placed and of a refused checkout, pinned.

PostgreSQL only (the counts are of its statements). Inside the test transaction the checkout's
BEGIN and COMMIT are a SAVEPOINT and its RELEASE: the same number of statements. A refusal
rolls back, which in a test transaction takes two (ROLLBACK TO and RELEASE SAVEPOINT) where
production takes one ROLLBACK: those tests run in real transactions.

Placed, 3 lines, through the service (14): BEGIN, claim the key (INSERT ... ON CONFLICT DO
NOTHING RETURNING), cart + lines locked with products and available stock (one SELECT ...
FOR UPDATE OF), the active shipping methods (one SELECT: the shopper's choice or the default
for the address's country), the order tied to the key (one INSERT in a CTE), the lines, the
event, the cart lines deleted, the stock rows locked in id order, one UPDATE ... FROM
(VALUES ...), the reservations, the ledger, the outbox rows (one INSERT), COMMIT. Through the
API the same 14: the answer is built from the objects in memory.

Refused (short stock, empty cart, replayed key): decided before any write, in at most 4
(BEGIN, the claim, the cart query or the replayed record, ROLLBACK/COMMIT).
"""

import uuid

import pytest
from django.db import connection

from inventory.errors import InsufficientStock
from inventory.models import Reservation, StockItem, StockMovement
from orders import services
from orders.errors import CartEmpty
from orders.models import IdempotencyRecord, Order, OrderLine
from outbox.models import OutboxMessage
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement counts"),
]

BODY = {"shipping_address": ADDRESS}
PLACED_SERVICE = 14
PLACED_API = 14
REFUSED = 4


def _fill(user, products, quantity=1):
    cart = services.cart_get_or_create(user=user)
    for product in products:
        services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)


@pytest.fixture
def three(db):
    return [stocked_product(on_hand=5, price=f"{i + 2}.50") for i in range(3)]


def _write_statements(ctx) -> list[str]:
    return [
        q["sql"]
        for q in ctx.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE", "WITH"))
    ]


def test_placed_three_line_checkout_through_the_service(user, three, django_assert_num_queries):
    _fill(user, three, quantity=2)
    with django_assert_num_queries(PLACED_SERVICE) as ctx:
        order, created = services.order_checkout(
            user=user, shipping_address=ADDRESS, idempotency_key="k-1"
        )
    assert created
    sql = [q["sql"] for q in ctx.captured_queries]
    assert not any("SELECT 1" in s and "orders_order" in s for s in sql)  # no number probe
    assert sum(s.startswith("UPDATE") and "inventory_stockitem" in s for s in sql) == 1
    assert sum(s.startswith("SAVEPOINT") for s in sql) == 1  # only the checkout's own
    # Everything the guarantees need was written with the stock change.
    assert IdempotencyRecord.objects.get(user=user, key="k-1").order_id == order.pk
    assert OrderLine.objects.filter(order=order).count() == 3
    assert Reservation.objects.filter(reference=order.number).count() == 3
    assert StockMovement.objects.filter(reference=order.number).count() == 3
    assert sorted(StockItem.objects.values_list("reserved", flat=True)) == [2, 2, 2]
    assert set(OutboxMessage.objects.values_list("task_name", flat=True)) == {
        "orders.tasks.order_event_notify",
        "inventory.tasks.stock_alerts_evaluate",
    }
    assert not user.cart.items.exists()


def test_placed_checkout_through_the_api_answers_from_memory(
    user, user_client, three, django_assert_num_queries
):
    _fill(user, three)
    with django_assert_num_queries(PLACED_API):
        response = user_client.post(
            "/api/v1/orders/", BODY, format="json", headers={"Idempotency-Key": "k-api"}
        )
    assert response.status_code == 201
    placed = response.json()
    # The answer built in memory is the one a read gives.
    again = user_client.get(f"/api/v1/orders/{placed['number']}/").json()
    assert placed == again


@pytest.mark.parametrize("lines", [1, 3, 6])
def test_placed_count_does_not_grow_with_lines(user, lines, django_assert_num_queries):
    _fill(user, [stocked_product(on_hand=5) for _ in range(lines)])
    with django_assert_num_queries(PLACED_SERVICE):
        services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="k")


@pytest.mark.django_db(transaction=True)  # a real BEGIN ... ROLLBACK
def test_short_stock_is_refused_before_any_write(user, three, django_assert_num_queries):
    _fill(user, three, quantity=2)
    StockItem.objects.filter(product=three[1]).update(reserved=4)  # 1 left, 2 asked
    with django_assert_num_queries(REFUSED) as ctx, pytest.raises(InsufficientStock) as refused:
        services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="k-s")
    assert _write_statements(ctx) == [ctx.captured_queries[1]["sql"]]  # only the key claim
    assert [(s.product_id, s.requested, s.available) for s in refused.value.shortages] == [
        (three[1].pk, 2, 1)
    ]
    assert not Order.objects.exists()
    assert not IdempotencyRecord.objects.exists()  # the key is not used up
    assert user.cart.items.count() == 3


@pytest.mark.django_db(transaction=True)  # a real BEGIN ... ROLLBACK
def test_short_stock_is_refused_through_the_api(
    user, user_client, three, django_assert_num_queries
):
    _fill(user, three, quantity=2)
    StockItem.objects.filter(product=three[0]).update(reserved=5)
    with django_assert_num_queries(REFUSED):
        response = user_client.post(
            "/api/v1/orders/", BODY, format="json", headers={"Idempotency-Key": uuid.uuid4().hex}
        )
    assert response.status_code == 409


@pytest.mark.django_db(transaction=True)  # a real BEGIN ... ROLLBACK
def test_empty_cart_is_refused_before_any_write(user, django_assert_num_queries):
    services.cart_get_or_create(user=user)
    with django_assert_num_queries(REFUSED) as ctx, pytest.raises(CartEmpty):
        services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="k-e")
    assert len(_write_statements(ctx)) == 1  # the claim, rolled back


def test_replayed_key_is_answered_without_writing(user, three, django_assert_num_queries):
    _fill(user, three)
    first, _ = services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="k")
    with django_assert_num_queries(REFUSED) as ctx:
        again, created = services.order_checkout(
            user=user, shipping_address=ADDRESS, idempotency_key="k"
        )
    assert (again.pk, created) == (first.pk, False)
    assert len(_write_statements(ctx)) == 1  # the claim, which conflicted and wrote nothing
    assert Order.objects.count() == 1


def test_an_order_number_collision_draws_a_new_number(user, three, monkeypatch):
    _fill(user, three[:1])
    taken = services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="a")[0]
    _fill(user, three[1:2])
    numbers = iter([taken.number, "261125-FRESH2"])
    monkeypatch.setattr(services, "_order_number", lambda now: next(numbers))
    order, created = services.order_checkout(
        user=user, shipping_address=ADDRESS, idempotency_key="b"
    )
    assert created and order.number == "261125-FRESH2"
    assert IdempotencyRecord.objects.get(key="b").order_id == order.pk
    assert Reservation.objects.filter(reference=order.number).count() == 1
