"""Money the provider took while the payment waits in review: never lost, never charged twice.

A payment held by the fraud rules after the provider took the money keeps its order marked
as being paid (no cancel, no expiry, the stock held) and alerts staff; a `payment.failed`
arriving after the money was taken changes nothing.
"""

import pytest
from django.core import mail

from orders import services as orders_services
from orders.errors import PaymentInProgress
from orders.models import Order
from payments import dummy_provider
from payments.models import DummyProviderRecord, Payment, Refund
from tests.payments.factories import CARD_OK, CARD_PENDING, event_body, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["charged at once", "confirmed by the bank later"])
def held(request, settings, order, pay, staff_user, django_capture_on_commit_callbacks):
    """A payment the provider took that the fraud rules hold: charged in the request, or
    held while pending and then confirmed by the bank (the provider's webhook)."""
    settings.FRAUD_AMOUNT_THRESHOLD = "20.00"
    if request.param == "charged at once":
        payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    else:
        payment = Payment.objects.get(pk=pay(order, CARD_PENDING).data["id"])
        with django_capture_on_commit_callbacks(execute=True):
            assert dummy_provider.settle(reference=payment.gateway_reference)
    payment.refresh_from_db()
    assert (payment.status, payment.gateway_status) == ("review", "succeeded")
    settings.FRAUD_AMOUNT_THRESHOLD = "1000.00"
    return payment


def test_a_late_failure_after_the_money_was_taken_changes_nothing(held, order, deliver, pay):
    answer = deliver(event_body("payment.failed", held, failure_code="card_declined"))

    assert answer.status_code == 200
    held.refresh_from_db()
    assert (held.status, held.gateway_status) == ("review", "succeeded")
    again = pay(order, CARD_OK)  # the shopper cannot pay a second time meanwhile
    assert again.status_code == 409, again.data
    charges = DummyProviderRecord.objects.filter(kind="payment", status="succeeded")
    assert charges.count() == 1


def test_staff_are_alerted_and_the_order_is_held_while_the_money_waits(
    held, order, product, staff_user
):
    alert = [m for m in mail.outbox if f"Payment {held.pk} needs review" in m.subject]
    assert alert and staff_user.email in alert[0].to and "Flagged by the fraud" in alert[0].body
    with pytest.raises(PaymentInProgress):
        orders_services.order_cancel_unpaid(order=Order.objects.get(pk=order.pk), actor=order.user)
    order.refresh_from_db()
    assert order.status == "pending_payment" and order.payment_started_at is not None
    assert stock_of(product) == (10, 3, 7)  # still held for the order


def test_rejecting_it_gives_the_money_back_and_frees_the_order(
    held, order, staff_user, django_capture_on_commit_callbacks
):
    from payments import services

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_review_reject(payment=held, actor=staff_user)

    refund = Refund.objects.get(payment=held)
    assert (refund.amount, refund.status) == (held.amount, "succeeded")
    order.refresh_from_db()
    assert order.payment_started_at is None  # it can be cancelled or expire now
    orders_services.order_cancel_unpaid(order=order, actor=order.user)
    order.refresh_from_db()
    assert order.status == "cancelled"


def test_approving_it_pays_the_order(held, order, staff_user, django_capture_on_commit_callbacks):
    from payments import services

    with django_capture_on_commit_callbacks(execute=True):
        services.payment_review_approve(payment=held, actor=staff_user)

    order.refresh_from_db()
    assert order.status == "paid" and order.payment_started_at is None
    assert not Refund.objects.exists()
