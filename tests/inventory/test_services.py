"""Stock services: the counters move only with a ledger row, and never past what is on hand."""

from datetime import timedelta

import pytest
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import selectors, services
from inventory.errors import InsufficientStock, InvalidQuantity, InvalidReference
from inventory.models import Batch, Reservation, StockItem, StockMovement
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db


def _soon():
    return timezone.now() + timedelta(minutes=15)


def _ledger_clean():
    assert selectors.stock_ledger_discrepancies() == []


def test_receive_puts_units_on_hand_and_writes_a_receipt(stocked, staff_user):
    item = stocked(on_hand=0)
    services.stock_receive(stock_item=item, quantity=7, actor=staff_user, reference="PO-1")
    item.refresh_from_db()
    assert (item.on_hand, item.reserved, item.available) == (7, 0, 7)
    movement = StockMovement.objects.get(stock_item=item)
    assert (movement.kind, movement.delta_on_hand, movement.reference, movement.actor) == (
        "receipt",
        7,
        "PO-1",
        staff_user,
    )
    _ledger_clean()


def test_receive_with_a_batch_records_its_expiry_and_adds_to_it_again(stocked):
    item = stocked(on_hand=0)
    expiry = timezone.localdate() + timedelta(days=90)
    services.stock_receive(stock_item=item, quantity=4, batch_number="B-1", expires_on=expiry)
    services.stock_receive(stock_item=item, quantity=6, batch_number="B-1")
    batch = Batch.objects.get(stock_item=item)
    assert (batch.number, batch.expires_on, batch.quantity_received) == ("B-1", expiry, 10)
    assert item.on_hand == 10
    assert StockMovement.objects.filter(batch=batch).count() == 2


@pytest.mark.parametrize("quantity", [0, -3, True, 1.5])
def test_receive_refuses_a_quantity_that_is_not_positive_and_writes_nothing(stocked, quantity):
    item = stocked(on_hand=2)
    with pytest.raises(InvalidQuantity):
        services.stock_receive(stock_item=item, quantity=quantity)
    item.refresh_from_db()
    assert item.on_hand == 2
    assert StockMovement.objects.filter(stock_item=item).count() == 1


def test_adjust_changes_on_hand_with_its_reason(stocked):
    item = stocked(on_hand=10)
    services.stock_adjust(stock_item=item, delta=-3, reason="broken jar")
    assert item.on_hand == 7
    movement = StockMovement.objects.filter(stock_item=item, kind="adjustment").get()
    assert (movement.delta_on_hand, movement.note) == (-3, "broken jar")
    _ledger_clean()


def test_adjust_never_goes_below_reserved(stocked):
    item = stocked(on_hand=5)
    services.stock_reserve(lines={item.product_id: 4}, reference="A-1", expires_at=_soon())
    with pytest.raises(InsufficientStock) as info:
        services.stock_adjust(stock_item=item, delta=-2, reason="count")
    assert info.value.http_status == 409
    assert info.value.code == "insufficient_stock"
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (5, 4)
    assert not StockMovement.objects.filter(kind="adjustment").exists()


@pytest.mark.parametrize(("delta", "reason"), [(0, "x"), (2, ""), (2, "   ")])
def test_adjust_needs_a_non_zero_delta_and_a_reason(stocked, delta, reason):
    item = stocked(on_hand=5)
    with pytest.raises(InvalidQuantity):
        services.stock_adjust(stock_item=item, delta=delta, reason=reason)


def test_stock_item_for_product_creates_it_once():
    product = ProductFactory()
    first = services.stock_item_for_product(product=product)
    again = services.stock_item_for_product(product=product)
    assert first.pk == again.pk
    assert (first.on_hand, first.reserved) == (0, 0)


def test_reserve_takes_every_line_and_records_reservations(stocked):
    a, b = stocked(on_hand=5), stocked(on_hand=3)
    reservations = services.stock_reserve(
        lines={a.product_id: 2, b.product_id: 3}, reference="ORD-1", expires_at=_soon()
    )
    assert sorted((r.stock_item_id, r.quantity, r.state) for r in reservations) == sorted(
        [(a.pk, 2, "active"), (b.pk, 3, "active")]
    )
    assert selectors.stock_available(product_ids=[a.product_id, b.product_id]) == {
        a.product_id: 3,
        b.product_id: 0,
    }
    assert StockMovement.objects.filter(kind="reservation", reference="ORD-1").count() == 2
    _ledger_clean()


def test_reserve_sums_repeated_lines_per_product(stocked):
    item = stocked(on_hand=3)
    services.stock_reserve(
        lines=[(item.product_id, 1), (item.product_id, 2)], reference="ORD-2", expires_at=_soon()
    )
    item.refresh_from_db()
    assert item.reserved == 3
    with pytest.raises(InsufficientStock):
        services.stock_reserve(
            lines=[(item.product_id, 1), (item.product_id, 1)],
            reference="ORD-3",
            expires_at=_soon(),
        )


def test_reserve_is_all_or_nothing_and_lists_each_short_line(stocked):
    plenty, short = stocked(on_hand=10), stocked(on_hand=1)
    missing = ProductFactory()
    with pytest.raises(InsufficientStock) as info:
        services.stock_reserve(
            lines={plenty.product_id: 2, short.product_id: 2, missing.pk: 1},
            reference="ORD-4",
            expires_at=_soon(),
        )
    assert info.value.payload() == {
        "lines": sorted(
            [
                {"product": short.product_id, "requested": 2, "available": 1},
                {"product": missing.pk, "requested": 1, "available": 0},
            ],
            key=lambda line: line["product"],
        )
    }
    assert info.value.http_status == 409
    assert not Reservation.objects.exists()
    plenty.refresh_from_db()
    assert plenty.reserved == 0
    assert not StockMovement.objects.filter(kind="reservation").exists()


@pytest.mark.parametrize("lines", [{}, {1: 0}, {1: -1}])
def test_reserve_refuses_empty_or_non_positive_lines(lines):
    with pytest.raises(InvalidQuantity):
        services.stock_reserve(lines=lines, reference="ORD-5", expires_at=_soon())


def test_reserve_needs_a_reference(stocked):
    item = stocked(on_hand=1)
    with pytest.raises(InvalidReference):
        services.stock_reserve(lines={item.product_id: 1}, reference="", expires_at=_soon())


def test_commit_takes_the_units_off_the_shelf_once(stocked, staff_user):
    item = stocked(on_hand=5)
    services.stock_reserve(lines={item.product_id: 2}, reference="ORD-6", expires_at=_soon())
    assert services.reservations_commit(reference="ORD-6", actor=staff_user) == 1
    assert services.reservations_commit(reference="ORD-6") == 0
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (3, 0)
    assert Reservation.objects.get().state == "committed"
    commit = StockMovement.objects.get(kind="commit")
    assert (commit.delta_on_hand, commit.delta_reserved, commit.actor) == (-2, -2, staff_user)
    _ledger_clean()


def test_release_gives_the_units_back_once(stocked):
    item = stocked(on_hand=5)
    services.stock_reserve(lines={item.product_id: 5}, reference="ORD-7", expires_at=_soon())
    assert services.reservations_release(reference="ORD-7") == 1
    assert services.reservations_release(reference="ORD-7") == 0
    assert services.reservations_commit(reference="ORD-7") == 0
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (5, 0)
    assert Reservation.objects.get().state == "released"
    _ledger_clean()


def test_commit_and_release_of_an_unknown_reference_do_nothing():
    assert services.reservations_commit(reference="nope") == 0
    assert services.reservations_release(reference="nope") == 0


def test_return_restocks_refunded_units(stocked):
    item = stocked(on_hand=2)
    never_stocked = ProductFactory()
    services.stock_return(lines={item.product_id: 3, never_stocked.pk: 1}, reference="ORD-8")
    item.refresh_from_db()
    assert item.on_hand == 5
    assert StockItem.objects.get(product=never_stocked).on_hand == 1
    assert StockMovement.objects.filter(kind="return", reference="ORD-8").count() == 2
    _ledger_clean()


def test_database_refuses_reserved_above_on_hand(stocked):
    item = stocked(on_hand=1)
    with pytest.raises(IntegrityError), transaction.atomic():
        StockItem.objects.filter(pk=item.pk).update(reserved=2)


def test_ledger_rows_cannot_be_changed_or_deleted(stocked):
    item = stocked(on_hand=1)
    movement = StockMovement.objects.get(stock_item=item)
    movement.note = "rewritten"
    with pytest.raises(TypeError):
        movement.save()
    with pytest.raises(TypeError):
        movement.delete()
    with pytest.raises(TypeError):
        StockMovement.objects.filter(pk=movement.pk).update(note="x")
    with pytest.raises(TypeError):
        StockMovement.objects.all().delete()


def test_discrepancies_name_an_item_whose_counter_drifted(stocked):
    item = stocked(on_hand=4)
    StockItem.objects.filter(pk=item.pk).update(on_hand=9)  # a write that skipped the ledger
    [drift] = selectors.stock_ledger_discrepancies()
    assert (drift.stock_item_id, drift.on_hand, drift.ledger_on_hand) == (item.pk, 9, 4)


@pytest.mark.postgres
def test_database_refuses_to_rewrite_the_ledger_on_postgresql(stocked, staff_user):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("the trigger exists on PostgreSQL only")
    item = stocked(on_hand=0)
    services.stock_receive(stock_item=item, quantity=2, actor=staff_user)
    base = StockMovement._base_manager.filter(stock_item=item)
    with pytest.raises(IntegrityError), transaction.atomic():
        base.update(delta_on_hand=50)
    with pytest.raises(IntegrityError), transaction.atomic():
        base._raw_delete(base.db)
    # Deleting a user who appears in the ledger only clears the actor.
    staff_user.delete()
    assert base.get(kind="receipt", delta_on_hand=2).actor_id is None
