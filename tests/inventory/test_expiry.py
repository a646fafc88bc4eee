"""Expired reservations go back on the shelf and tell the orders app, in one transaction."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import selectors, services, tasks
from inventory.models import Reservation, StockItem, StockMovement
from inventory.signals import reservation_expired

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _only_our_receivers():
    """Hide other apps' receivers: these tests pin inventory's side of the signal."""
    saved = reservation_expired.receivers
    reservation_expired.receivers = []
    reservation_expired.sender_receivers_cache.clear()
    yield
    reservation_expired.receivers = saved
    reservation_expired.sender_receivers_cache.clear()


@pytest.fixture
def receiver_calls():
    calls = []

    def receiver(sender, reference, **kwargs):
        calls.append(reference)

    reservation_expired.connect(receiver, weak=False)
    yield calls
    reservation_expired.disconnect(receiver)


def test_expired_reservations_are_released_and_announced_per_reference(stocked, receiver_calls):
    item = stocked(on_hand=10)
    past = timezone.now() - timedelta(minutes=1)
    services.stock_reserve(lines={item.product_id: 2}, reference="OLD-1", expires_at=past)
    services.stock_reserve(lines={item.product_id: 3}, reference="OLD-2", expires_at=past)
    services.stock_reserve(
        lines={item.product_id: 4},
        reference="NEW-1",
        expires_at=timezone.now() + timedelta(minutes=5),
    )

    assert tasks.reservations_release_expired() == 2
    assert sorted(receiver_calls) == ["OLD-1", "OLD-2"]
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (10, 4)
    assert set(
        Reservation.objects.filter(reference__startswith="OLD").values_list("state", flat=True)
    ) == {"expired"}
    assert StockMovement.objects.filter(kind="expiry").count() == 2
    assert selectors.stock_ledger_discrepancies() == []

    assert tasks.reservations_release_expired() == 0  # safe to run twice
    assert sorted(receiver_calls) == ["OLD-1", "OLD-2"]


def test_a_failing_receiver_rolls_back_the_release_of_its_reference_only(stocked):
    item = stocked(on_hand=10)
    past = timezone.now() - timedelta(minutes=1)
    services.stock_reserve(lines={item.product_id: 2}, reference="BAD", expires_at=past)
    services.stock_reserve(lines={item.product_id: 3}, reference="GOOD", expires_at=past)

    def receiver(sender, reference, **kwargs):
        if reference == "BAD":
            raise RuntimeError("orders could not expire the order")

    reservation_expired.connect(receiver, weak=False)
    try:
        with pytest.raises(tasks.ReservationExpiryFailed) as info:
            tasks.reservations_release_expired()
        assert (info.value.references, info.value.expired) == (["BAD"], 1)
    finally:
        reservation_expired.disconnect(receiver)
    states = dict(Reservation.objects.values_list("reference", "state"))
    assert states == {"BAD": "active", "GOOD": "expired"}
    assert StockItem.objects.get(pk=item.pk).reserved == 2
    assert selectors.stock_ledger_discrepancies() == []


def test_a_paid_reservation_is_not_expired_later(stocked, receiver_calls):
    item = stocked(on_hand=3)
    past = timezone.now() - timedelta(minutes=1)
    services.stock_reserve(lines={item.product_id: 1}, reference="PAID", expires_at=past)
    services.reservations_commit(reference="PAID")
    assert tasks.reservations_release_expired() == 0
    assert receiver_calls == []
