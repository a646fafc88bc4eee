"""An unpaid order with a hosted checkout still open at the provider: the checkout is closed
at the provider before the order is cancelled or expired, so money is never taken after."""

import uuid
from datetime import timedelta

import pytest
from django.test import TestCase
from django.utils import timezone

from inventory import tasks as inventory_tasks
from inventory.models import Reservation
from orders.models import Order
from payments import dummy_provider, services, tasks
from payments.gateways.base import GatewayUnavailable
from payments.gateways.dummy import DummyGateway
from payments.models import DummyProviderRecord, Payment, Refund, WebhookEvent
from tests.helpers import error_code
from tests.payments.factories import CARD_OK, ledger_clean, stock_of

pytestmark = pytest.mark.django_db


def open_checkout(user_client, order) -> Payment:
    """Start a hosted checkout at the dummy provider (no card: its own page takes it)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = user_client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
    assert response.status_code == 201, response.data
    assert response.data["status"] == "pending" and response.data["redirect_url"]
    return Payment.objects.get(pk=response.data["id"])


def cancel(client, order):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(f"/api/v1/orders/{order.number}/cancel/")


def provider_record(payment) -> DummyProviderRecord:
    return DummyProviderRecord.objects.get(kind="payment", key=payment.provider_key)


def test_cancel_closes_the_open_checkout_at_the_provider_first(user_client, order, product):
    payment = open_checkout(user_client, order)

    response = cancel(user_client, order)

    assert response.status_code == 200, response.data
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert (provider_record(payment).status, provider_record(payment).failure_code) == (
        "failed",
        "cancelled",
    )
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "cancelled")
    assert stock_of(product) == (10, 0, 10)
    # The shopper's tab is still open on the provider's page: paying there takes nothing.
    with TestCase.captureOnCommitCallbacks(execute=True):
        back = dummy_provider.checkout_pay(reference=payment.gateway_reference, card_number=CARD_OK)
    assert back == payment.cancel_url
    assert provider_record(payment).status == "failed"
    payment.refresh_from_db()
    assert payment.status == "failed" and payment.refunded_amount == 0
    assert not Refund.objects.exists()
    assert ledger_clean()


def test_cancel_after_paying_at_the_provider_is_refused_and_the_order_is_paid(
    user_client, order, product
):
    payment = open_checkout(user_client, order)
    # Paid on the provider's page; its webhook is stored but not processed yet.
    with TestCase.captureOnCommitCallbacks(execute=False):
        dummy_provider.checkout_pay(reference=payment.gateway_reference, card_number=CARD_OK)
    assert WebhookEvent.objects.filter(processed_at__isnull=True).count() == 1

    response = cancel(user_client, order)

    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    # The webhook, processed later, finds the payment applied: still no refund.
    assert services.webhooks_drain()["processed"] == 1
    assert not Refund.objects.exists()
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_cancel_is_refused_while_the_provider_cannot_be_reached(
    user_client, order, product, monkeypatch
):
    payment = open_checkout(user_client, order)

    def unreachable(self, **kwargs):
        raise GatewayUnavailable("connection refused")

    monkeypatch.setattr(DummyGateway, "checkout_close", unreachable)

    response = cancel(user_client, order)

    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert provider_record(payment).status == "open"
    assert stock_of(product) == (10, 3, 7)


def test_staff_cancelling_an_unpaid_order_closes_its_open_checkout_first(
    user_client, staff_client, order, product
):
    payment = open_checkout(user_client, order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = staff_client.post(
            f"/api/v1/orders/{order.number}/transition/",
            {"status": "cancelled", "note": "Customer phoned"},
            format="json",
        )
    assert response.status_code == 200, response.data
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert provider_record(payment).status == "failed"
    payment.refresh_from_db()
    assert payment.status == "failed" and not Refund.objects.exists()
    assert stock_of(product) == (10, 0, 10)


def test_staff_cancel_after_paying_at_the_provider_is_refused_and_the_order_is_paid(
    user_client, staff_client, order
):
    payment = open_checkout(user_client, order)
    with TestCase.captureOnCommitCallbacks(execute=False):
        dummy_provider.checkout_pay(reference=payment.gateway_reference, card_number=CARD_OK)
    response = staff_client.post(
        f"/api/v1/orders/{order.number}/transition/", {"status": "cancelled"}, format="json"
    )
    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_the_admin_desk_cancel_closes_the_open_checkout_first(user_client, admin_client, order):
    payment = open_checkout(user_client, order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = admin_client.post(
            f"/admin/orders/order/{order.pk}/transition/cancelled/", {"note": ""}
        )
    assert response.status_code == 302
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    assert provider_record(payment).status == "failed"


def test_an_order_past_its_reservation_time_with_an_open_checkout_is_closed_then_expired(
    user_client, order, product, django_capture_on_commit_callbacks
):
    payment = open_checkout(user_client, order)
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    Order.objects.filter(pk=order.pk).update(
        reservation_expires_at=timezone.now() - timedelta(minutes=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        # Inventory's job runs inside a transaction: it cannot close the checkout, so it
        # leaves the order (and its stock) alone.
        with pytest.raises(inventory_tasks.ReservationExpiryFailed):
            inventory_tasks.reservations_release_expired()
        order.refresh_from_db()
        assert order.status == Order.Status.PENDING_PAYMENT

        result = tasks.payments_reconcile.apply().get()

    assert result["expired_checkouts"] == {"expired": 1, "refused": 0, "failed": 0}
    order.refresh_from_db()
    assert order.status == Order.Status.EXPIRED
    assert provider_record(payment).status == "failed"
    payment.refresh_from_db()
    assert payment.status == "failed"
    assert stock_of(product) == (10, 0, 10)
    assert ledger_clean()


def test_an_order_paid_at_the_provider_before_its_expiry_ran_is_paid_not_expired(
    user_client, order, product, django_capture_on_commit_callbacks
):
    payment = open_checkout(user_client, order)
    with django_capture_on_commit_callbacks(execute=False):
        dummy_provider.checkout_pay(reference=payment.gateway_reference, card_number=CARD_OK)
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    Order.objects.filter(pk=order.pk).update(  # the checkout opened in time
        reservation_expires_at=timezone.now() - timedelta(minutes=1),
        payment_started_at=timezone.now() - timedelta(minutes=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        counts = services.orders_expire_with_open_checkouts()

    assert counts == {"expired": 0, "refused": 1, "failed": 0}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert not Refund.objects.exists()
    assert stock_of(product) == (7, 0, 7)
