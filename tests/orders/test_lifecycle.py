"""The order lifecycle: one transition table, one service, an event and an email per step."""

import itertools
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from inventory import selectors as inventory_selectors
from inventory import tasks as inventory_tasks
from inventory.models import Reservation
from orders import services, tasks
from orders.errors import InvalidTransition
from orders.models import Order, OrderEvent, OrderStatus
from orders.signals import order_refund_requested
from tests.orders.factories import place_order, stocked_product

pytestmark = pytest.mark.django_db

S = OrderStatus
ALLOWED = {
    (S.PENDING_PAYMENT, S.PAID),
    (S.PENDING_PAYMENT, S.CANCELLED),
    (S.PENDING_PAYMENT, S.EXPIRED),
    (S.PAID, S.PROCESSING),
    (S.PAID, S.CANCELLED),
    (S.PROCESSING, S.SHIPPED),
    (S.PROCESSING, S.CANCELLED),
    (S.SHIPPED, S.DELIVERED),
}  # refunded and partially refunded: only refunds move an order there (REFUND_TRANSITIONS)


@pytest.fixture
def order(user, product):
    return place_order(user, {product: 3})


@pytest.fixture
def refund_requests():
    calls = []

    def receiver(sender, order, actor=None, **kwargs):
        calls.append((order.number, actor))

    order_refund_requested.connect(receiver, weak=False, dispatch_uid="test_refund_requests")
    yield calls
    order_refund_requested.disconnect(dispatch_uid="test_refund_requests")


def available(product):
    return inventory_selectors.stock_available(product_ids=[product.pk])[product.pk]


@pytest.mark.parametrize("from_status, to_status", list(itertools.product(S.values, S.values)))
def test_transition_table_allows_exactly_the_documented_steps(order, from_status, to_status):
    Order.objects.filter(pk=order.pk).update(status=from_status)
    order.refresh_from_db()
    if (from_status, to_status) in ALLOWED:
        services.order_transition(order=order, to_status=to_status)
        order.refresh_from_db()
        assert order.status == to_status
        assert order.events.last().from_status == from_status
    else:
        events = order.events.count()
        with pytest.raises(InvalidTransition):
            services.order_transition(order=order, to_status=to_status)
        order.refresh_from_db()
        assert order.status == from_status
        assert order.events.count() == events


def test_unknown_status_is_an_invalid_transition(order):
    with pytest.raises(InvalidTransition):
        services.order_transition(order=order, to_status="teleported")


def test_happy_path_commits_stock_and_records_every_step(order, product, staff_user):
    assert available(product) == 7
    services.order_transition(order=order, to_status=S.PAID, note="Paid by card")
    assert order.status == S.PAID and order.paid_at is not None
    product.stock.refresh_from_db()
    assert (product.stock.on_hand, product.stock.reserved) == (7, 0)
    for step in (S.PROCESSING, S.SHIPPED, S.DELIVERED):
        services.order_transition(order=order, to_status=step, actor=staff_user, note=step)
    events = list(order.events.values_list("from_status", "to_status", "actor", "note"))
    assert events == [
        ("", S.PENDING_PAYMENT, order.user_id, "Order placed."),
        (S.PENDING_PAYMENT, S.PAID, None, "Paid by card"),
        (S.PAID, S.PROCESSING, staff_user.pk, S.PROCESSING),
        (S.PROCESSING, S.SHIPPED, staff_user.pk, S.SHIPPED),
        (S.SHIPPED, S.DELIVERED, staff_user.pk, S.DELIVERED),
    ]
    assert inventory_selectors.stock_ledger_discrepancies() == []


def test_cancelling_an_unpaid_order_releases_its_stock(order, product, refund_requests):
    services.order_transition(order=order, to_status=S.CANCELLED, actor=order.user)
    assert available(product) == 10
    assert set(Reservation.objects.values_list("state", flat=True)) == {"released"}
    assert refund_requests == []


@pytest.mark.parametrize("paid_step", [S.PAID, S.PROCESSING])
def test_staff_cancel_of_paid_order_asks_for_refund_and_restocks(
    order, product, staff_user, refund_requests, paid_step
):
    services.order_transition(order=order, to_status=S.PAID)
    if paid_step == S.PROCESSING:
        services.order_transition(order=order, to_status=S.PROCESSING)
    assert available(product) == 7

    services.order_transition(order=order, to_status=S.CANCELLED, actor=staff_user)

    assert refund_requests == [(order.number, staff_user)]
    assert available(product) == 10
    assert inventory_selectors.stock_ledger_discrepancies() == []


def test_refund_request_rolls_back_with_a_failing_receiver(order, product):
    services.order_transition(order=order, to_status=S.PAID)

    def failing(sender, **kwargs):
        raise RuntimeError("gateway down")

    order_refund_requested.connect(failing, weak=False, dispatch_uid="test_failing")
    try:
        with pytest.raises(RuntimeError):
            services.order_transition(order=order, to_status=S.CANCELLED)
    finally:
        order_refund_requested.disconnect(dispatch_uid="test_failing")
    order.refresh_from_db()
    assert order.status == S.PAID
    assert available(product) == 7


def test_expired_reservation_expires_the_unpaid_order_and_emails_the_shopper(
    order, product, django_capture_on_commit_callbacks
):
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    mail.outbox.clear()
    with django_capture_on_commit_callbacks(execute=True):
        inventory_tasks.reservations_release_expired()
    order.refresh_from_db()
    assert order.status == S.EXPIRED
    assert order.events.last().from_status == S.PENDING_PAYMENT
    assert available(product) == 10
    assert inventory_selectors.stock_ledger_discrepancies() == []
    [message] = mail.outbox
    assert "expired" in message.subject and order.number in message.subject


def test_expiry_signal_for_a_paid_or_unknown_order_changes_nothing(order):
    services.order_transition(order=order, to_status=S.PAID)
    assert services.order_expire_for_reference(reference=order.number) is None
    assert services.order_expire_for_reference(reference="NO-SUCH") is None
    order.refresh_from_db()
    assert order.status == S.PAID


def test_releasing_twice_is_harmless(order, product):
    services.order_transition(order=order, to_status=S.EXPIRED)
    from inventory import services as inventory_services

    assert inventory_services.reservations_release(reference=order.number) == 0
    assert available(product) == 10


@pytest.mark.parametrize(
    "steps, emailed",
    [
        ([], ["received your order"]),
        ([S.PAID, S.PROCESSING], ["received your order"]),
        ([S.PAID, S.PROCESSING, S.SHIPPED], ["received your order", "on its way"]),
        (
            [S.PAID, S.PROCESSING, S.SHIPPED, S.DELIVERED],
            ["received your order", "on its way", "was delivered"],
        ),
        ([S.CANCELLED], ["received your order", "was cancelled"]),
        ([S.EXPIRED], ["received your order", "expired"]),
    ],
)
def test_shopper_is_emailed_about_the_steps_they_care_about(
    user, product, django_capture_on_commit_callbacks, steps, emailed
):
    with django_capture_on_commit_callbacks(execute=True):
        order = place_order(user, {product: 1})
    for step in steps:
        with django_capture_on_commit_callbacks(execute=True):
            services.order_transition(order=order, to_status=step)
    assert len(mail.outbox) == len(emailed)
    for message, phrase in zip(mail.outbox, emailed, strict=True):
        assert phrase in message.subject and order.number in message.subject
        assert message.to == [user.email]


def test_email_task_is_safe_to_run_twice(user, product):
    order = place_order(user, {product: 1})
    mail.outbox.clear()
    event = order.events.get()
    assert tasks.order_event_notify(event.pk) is True
    assert tasks.order_event_notify(event.pk) is False
    assert len(mail.outbox) == 1


def test_emails_are_queued_only_after_commit(user, product, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        place_order(user, {product: 1})
    assert len(callbacks) >= 1
    assert mail.outbox == []
    assert OrderEvent.objects.filter(notified_at__isnull=False).count() == 0


def test_ledger_stays_consistent_across_many_orders(user):
    a, b = stocked_product(on_hand=20), stocked_product(on_hand=20)
    orders = [place_order(user, {a: 2, b: 1}) for _ in range(4)]
    services.order_transition(order=orders[0], to_status=S.PAID)
    services.order_transition(order=orders[1], to_status=S.CANCELLED)
    services.order_transition(order=orders[2], to_status=S.EXPIRED)
    a.stock.refresh_from_db()
    assert (a.stock.on_hand, a.stock.reserved) == (18, 2)
    assert inventory_selectors.stock_ledger_discrepancies() == []
