"""Checkout at the floor: the statements of a placed and of a refused checkout, pinned.

PostgreSQL only (the counts are of its statements). Inside the test transaction the checkout's
BEGIN and COMMIT are a SAVEPOINT and its RELEASE: the same number of statements. A refusal
rolls back, which in a test transaction takes two (ROLLBACK TO and RELEASE SAVEPOINT) where
production takes one ROLLBACK: those tests run in real transactions.

Placed, 3 lines, through the service (13): BEGIN, claim the key (INSERT ... ON CONFLICT DO
NOTHING RETURNING), cart + lines locked with products and available stock (one SELECT ...
FOR UPDATE OF), the order tied to the key (one INSERT in a CTE), the lines, the event, the
cart lines deleted, the stock rows locked in id order, one UPDATE ... FROM (VALUES ...), the
reservations, the ledger, the outbox rows (one INSERT), COMMIT. The active shipping methods
come from the cache (orders/shipping.py); a cold cache, or the first checkout after staff
edit a method, reads them once more (14). Through the API the same 13: the answer is built
from the objects in memory.

After COMMIT (on_commit, so outside these counts in a test transaction) the outbox rows the
broker took are deleted: one DELETE more per placed checkout in real life, 14 in all, pinned
below in a real transaction with a broker that takes the tasks (PLACED_COMMITTED).

Refused (short stock, empty cart, replayed key): decided before any write, in at most 4
(BEGIN, the claim, the cart query or the replayed record, ROLLBACK/COMMIT).
"""

import threading
import uuid
from decimal import Decimal

import pytest
from celery.app.task import Task
from django.core.exceptions import ValidationError
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext

from inventory.errors import InsufficientStock
from inventory.models import Reservation, StockItem, StockMovement
from orders import services, shipping
from orders.errors import CartEmpty
from orders.models import IdempotencyRecord, Order, OrderLine, ShippingMethod
from orders.services import checkout
from outbox import services as outbox_services
from outbox.models import OutboxMessage
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement counts"),
]

BODY = {"shipping_address": ADDRESS}
PLACED_SERVICE = 13
PLACED_API = 13
# In a real transaction, with the after-commit DELETE of the outbox rows the broker took.
PLACED_COMMITTED = PLACED_SERVICE + 1
# The one read of the active shipping methods when the cache does not hold them.
COLD_SHIPPING_CACHE = 1
REFUSED = 4


def _fill(user, products, quantity=1):
    cart = services.cart_get_or_create(user=user)
    for product in products:
        services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)
    shipping.shipping_method_list()  # as after any earlier checkout: the methods are cached


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
    monkeypatch.setattr(checkout, "_order_number", lambda now: next(numbers))
    order, created = services.order_checkout(
        user=user, shipping_address=ADDRESS, idempotency_key="b"
    )
    assert created and order.number == "261125-FRESH2"
    assert IdempotencyRecord.objects.get(key="b").order_id == order.pk
    assert Reservation.objects.filter(reference=order.number).count() == 1


# ------------------------------------------------------------------------------
# The shipping methods, cached: no read on the hot path, staff edits seen at once
# ------------------------------------------------------------------------------
def _method(**fields) -> ShippingMethod:
    defaults = {"name": "Standard", "price": Decimal("4.90"), "free_over": Decimal("100.00")}
    return ShippingMethod.objects.create(**{**defaults, **fields})


def _shipping_reads(ctx) -> int:
    return sum("orders_shippingmethod" in q["sql"] for q in ctx.captured_queries)


def test_a_cold_shipping_cache_costs_one_read_and_fills_it(user, three, django_assert_num_queries):
    _method()
    cart = services.cart_get_or_create(user=user)
    services.cart_item_add(cart=cart, product_id=three[0].pk, quantity=1)
    with django_assert_num_queries(PLACED_SERVICE + COLD_SHIPPING_CACHE) as cold:
        services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="c-1")
    assert _shipping_reads(cold) == 1
    services.cart_item_add(cart=cart, product_id=three[1].pk, quantity=1)
    with django_assert_num_queries(PLACED_SERVICE) as warm:
        order, _ = services.order_checkout(
            user=user, shipping_address=ADDRESS, idempotency_key="c-2"
        )
    assert _shipping_reads(warm) == 0
    assert (order.shipping_method_name, order.shipping) == ("Standard", Decimal("4.90"))


def test_a_staff_edit_is_snapshotted_by_the_next_checkout(user):
    product = stocked_product(on_hand=20, price="3.00")
    standard = _method()
    express = _method(name="Express", price=Decimal("9.00"), free_over=None, position=1)

    def checkout(key, **kwargs):
        _fill(user, [product])
        return services.order_checkout(
            user=user, shipping_address=ADDRESS, idempotency_key=key, **kwargs
        )[0]

    first = checkout("e-1")
    assert (first.shipping_method_id, first.shipping) == (standard.pk, Decimal("4.90"))
    # Edited as the admin does (save): name, price and free-over reach the next order.
    standard.name, standard.price, standard.free_over = "Economy", Decimal("6.10"), Decimal("2")
    standard.save()
    edited = checkout("e-2")
    assert (edited.shipping_method_name, edited.shipping) == ("Economy", Decimal("0.00"))
    standard.free_over = None
    standard.save()
    assert checkout("e-3").shipping == Decimal("6.10")
    # Moved behind express: express is the default now; a chosen method is found too.
    standard.position = 2
    standard.save()
    assert checkout("e-4").shipping_method_name == "Express"
    assert checkout("e-5", shipping_method_id=standard.pk).shipping_method_name == "Economy"
    # Switched off, then deleted: no longer offered, and the shop falls back to the flat rate.
    express.active = False
    express.save()
    assert checkout("e-6").shipping_method_id == standard.pk
    with pytest.raises(ValidationError):
        checkout("e-7", shipping_method_id=express.pk)
    ShippingMethod.objects.filter(pk=standard.pk).delete()  # the admin's bulk delete
    ShippingMethod.objects.filter(pk=express.pk).delete()
    last = checkout("e-8")
    assert (last.shipping_method_id, last.shipping_method_name) == (None, "Standard shipping")


@pytest.mark.django_db(transaction=True)  # a real COMMIT, so on_commit callbacks run
def test_placed_checkout_in_a_real_transaction_and_its_after_commit_delete(
    user, three, monkeypatch
):
    # A broker that takes every task (recorded, not run), as in production.
    monkeypatch.setattr(outbox_services, "_eager", lambda: False)
    published = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **k: published.append(self.name))
    _fill(user, three, quantity=2)
    with CaptureQueriesContext(connection) as ctx:
        services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="k-real")
    sql = [q["sql"] for q in ctx.captured_queries]
    assert len(sql) == PLACED_COMMITTED, sql
    assert (sql[0], sql[PLACED_SERVICE - 1]) == ("BEGIN", "COMMIT")
    assert sql[-1].startswith("DELETE") and OutboxMessage._meta.db_table in sql[-1]
    assert sorted(published) == [
        "inventory.tasks.stock_alerts_evaluate",
        "orders.tasks.order_event_notify",
    ]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)  # the edit is committed by another connection
def test_methods_read_while_an_edit_is_uncommitted_are_not_served_after_it(user, three):
    method = _method()
    shipping.shipping_method_list()
    edited, commit = threading.Event(), threading.Event()

    def staff_edit():
        try:
            with transaction.atomic():
                method.price = Decimal("7.70")
                method.save()
                edited.set()
                commit.wait(10)
        finally:
            connections.close_all()

    staff = threading.Thread(target=staff_edit)
    staff.start()
    assert edited.wait(10)
    # The edit is not committed: this read sees the old price and caches it.
    assert shipping.shipping_method_list()[0].price == Decimal("4.90")
    commit.set()
    staff.join(10)
    _fill(user, three[:1])
    order, _ = services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key="r")
    assert order.shipping == Decimal("7.70")
