"""Stripe through the official SDK, offline: a local fake of Stripe's HTTP API.

End to end: create a Checkout Session, redirect, a webhook signed as Stripe signs, the
order paid, a refund; and what can go wrong on the way.
"""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
import stripe
from django.test import TestCase
from django.utils import timezone
from rest_framework.test import APIClient

from orders.models import Order
from payments import services
from payments.models import Payment, Refund
from tests.helpers import error_code, field_errors
from tests.payments.factories import ledger_clean, stock_of
from tests.payments.stripe_fake import FakeStripe

pytestmark = pytest.mark.django_db

WEBHOOK_SECRET = "whsec_test_offline"
URL = "/api/v1/payments/webhooks/stripe/"


@pytest.fixture
def fake(settings, monkeypatch):
    server = FakeStripe(WEBHOOK_SECRET).start()
    monkeypatch.setattr(stripe, "api_base", server.base)
    settings.PAYMENT_GATEWAYS = {
        **settings.PAYMENT_GATEWAYS,
        "stripe": {
            "CLASS": "payments.gateways.stripe.StripeGateway",
            "WEBHOOK_SECRET": WEBHOOK_SECRET,
            "SECRET_KEY": "sk_test_offline",
        },
    }
    yield server
    server.stop()


def start(client, order, **body):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "stripe", **body},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )


def send(payload: bytes, header: str):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return APIClient().generic(
            "POST", URL, payload, content_type="application/json", HTTP_STRIPE_SIGNATURE=header
        )


def test_stripe_end_to_end(fake, order, product, user_client, staff_client, settings):
    # 1. The shopper starts paying: a Checkout Session, and its URL to go to.
    response = start(user_client, order)
    assert response.status_code == 201, response.data
    assert response.data["status"] == "pending"
    payment = Payment.objects.get(pk=response.data["id"])
    session = fake.sessions[payment.gateway_reference]
    assert response.data["redirect_url"] == session["url"]
    assert session["amount_total"] == int(order.total * 100)  # minor units
    assert session["currency"] == "eur"
    assert session["metadata"]["provider_key"] == payment.provider_key
    assert session["success_url"].endswith(f"/orders/{order.number}/pay/return/")
    create = [r for r in fake.requests if r[1] == "/v1/checkout/sessions"]
    assert [r[3] for r in create] == [payment.provider_key]  # the phase-1 key
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT

    # 2. The shopper pays on Stripe's page; Stripe sends its signed webhook.
    paid = fake.complete(session["id"])
    answer = send(*fake.event("checkout.session.completed", paid))
    assert answer.status_code == 200, answer.data
    order.refresh_from_db()
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)

    # The same event again (Stripe retries): nothing happens twice.
    assert send(*fake.event("checkout.session.completed", paid)).status_code == 200
    assert order.events.filter(to_status="paid").count() == 1

    # 3. Staff refund part of it: Stripe refunds the PaymentIntent once, in minor units.
    with TestCase.captureOnCommitCallbacks(execute=True):
        refunded = staff_client.post(
            f"/api/v1/payments/{payment.pk}/refunds/",
            {"amount": "10.00", "reason": "Scratched"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="refund-scratched",
        )
    assert refunded.status_code == 201, refunded.data
    refund = Refund.objects.get(pk=refunded.data["id"])
    assert refund.status == "succeeded"
    stripe_refund = fake.refunds[refund.gateway_reference]
    assert stripe_refund["amount"] == 1000
    assert stripe_refund["payment_intent"] == paid["payment_intent"]
    refund_calls = [r for r in fake.requests if r[1] == "/v1/refunds"]
    assert [r[3] for r in refund_calls] == [refund.provider_key]
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("10.00")
    assert ledger_clean()


def test_the_pay_page_redirects_to_stripe(fake, order, client, user):
    client.force_login(user)
    response = client.post(
        f"/orders/{order.number}/pay/", {"gateway": "stripe", "idempotency_key": "abc"}
    )
    payment = Payment.objects.get(order=order)
    assert response.status_code == 302
    assert response["Location"] == fake.sessions[payment.gateway_reference]["url"]
    # Coming back to the page offers the open checkout instead of a second one.
    page = client.get(f"/orders/{order.number}/pay/")
    assert fake.sessions[payment.gateway_reference]["url"] in page.content.decode()


def test_an_spa_passes_its_own_return_urls_from_an_allowed_origin(
    fake, order, user_client, settings
):
    settings.PAYMENT_RETURN_ORIGINS = ["https://app.example.com"]
    response = start(
        user_client,
        order,
        return_url="https://app.example.com/orders/done",
        cancel_url="https://app.example.com/orders/cancelled",
    )
    assert response.status_code == 201
    session = fake.sessions[Payment.objects.get().gateway_reference]
    assert session["success_url"] == "https://app.example.com/orders/done"
    refused = start(user_client, order, return_url="https://evil.example.net/x")
    assert refused.status_code == 400
    assert "return_url" in field_errors(refused)


def test_a_card_number_is_never_taken(fake, order, user_client):
    response = start(user_client, order, card_number="4242424242424242")
    assert response.status_code == 400
    assert "card_number" in field_errors(response)
    assert not fake.requests


def test_a_second_start_while_the_checkout_is_open_answers_the_same_checkout(
    fake, order, user_client
):
    first = start(user_client, order)
    second = start(user_client, order)
    assert second.status_code == 200
    assert second.data["id"] == first.data["id"]
    assert len(fake.sessions) == 1


def test_webhooks_are_checked_by_the_sdk(fake, order, user_client):
    payment = Payment.objects.get(pk=start(user_client, order).data["id"])
    paid = fake.complete(payment.gateway_reference)
    payload, _ = fake.event("checkout.session.completed", paid)
    _, wrong = fake.event("checkout.session.completed", paid, secret="whsec_other")
    assert send(payload, wrong).status_code == 400
    old_payload, old = fake.event("checkout.session.completed", paid, ts=1_000_000_000)
    assert send(old_payload, old).status_code == 400
    assert error_code(send(payload, "")) == "invalid_signature"
    payment.refresh_from_db()
    assert payment.status == "pending"


def test_a_signed_event_with_another_amount_holds_the_payment(fake, order, user_client):
    payment = Payment.objects.get(pk=start(user_client, order).data["id"])
    paid = fake.complete(payment.gateway_reference)
    assert (
        send(*fake.event("checkout.session.completed", {**paid, "amount_total": 1})).status_code
        == 200
    )
    payment.refresh_from_db()
    assert payment.status == "review"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_a_shopper_who_cancels_on_stripe_can_pay_again(fake, order, client, user):
    client.force_login(user)
    client.post(f"/orders/{order.number}/pay/", {"gateway": "stripe", "idempotency_key": "k1"})
    payment = Payment.objects.get(order=order)
    response = client.get(f"/orders/{order.number}/pay/cancelled/")
    assert response.status_code == 302 and response["Location"].endswith("/pay/failed/")
    payment.refresh_from_db()
    assert (payment.status, payment.failure_code) == ("failed", "expired")
    assert fake.sessions[payment.gateway_reference]["status"] == "expired"
    again = client.post(
        f"/orders/{order.number}/pay/", {"gateway": "stripe", "idempotency_key": "k2"}
    )
    assert again.status_code == 302 and "checkout.stripe.test" in again["Location"]


def test_reconcile_finds_the_session_a_crash_left_unrecorded(fake, order, user_client):
    response = start(user_client, order)
    payment = Payment.objects.get(pk=response.data["id"])
    # As if phase 3 never ran: the reference was not recorded.
    Payment.objects.filter(pk=payment.pk).update(
        status="processing", gateway_reference="", updated_at=timezone.now() - timedelta(hours=1)
    )
    services.payments_reconcile()
    payment.refresh_from_db()
    assert payment.status == "pending"
    assert len(fake.sessions) == 1  # Stripe answered the same session (same key)
    assert payment.gateway_reference in fake.sessions


def test_a_session_expires_with_the_reservation_within_stripes_bounds(fake, order, user_client):
    response = start(user_client, order)
    payment = Payment.objects.get(pk=response.data["id"])
    order.refresh_from_db()
    create = next(r for r in fake.requests if r[1] == "/v1/checkout/sessions")
    expires_at = int(create[2]["expires_at"])
    made = payment.created_at.timestamp()
    # At least Stripe's 30 minutes (the 15-minute reservation is shorter), at most 24 hours.
    assert 30 * 60 < expires_at - made <= 24 * 3600
    assert expires_at >= int(order.reservation_expires_at.timestamp())
    assert fake.sessions[payment.gateway_reference]["expires_at"] == expires_at


def test_a_long_reservation_is_the_sessions_expiry(fake, order, user_client):
    Order.objects.filter(pk=order.pk).update(
        reservation_expires_at=timezone.now() + timedelta(hours=2)
    )
    order.refresh_from_db()
    payment = Payment.objects.get(pk=start(user_client, order).data["id"])
    session = fake.sessions[payment.gateway_reference]
    assert session["expires_at"] == int(order.reservation_expires_at.timestamp())


def test_cancelling_expires_the_stripe_session_before_the_order(fake, order, product, user_client):
    payment = Payment.objects.get(pk=start(user_client, order).data["id"])
    session_id = payment.gateway_reference

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")

    assert response.status_code == 200, response.data
    expire = [r for r in fake.requests if r[1] == f"/v1/checkout/sessions/{session_id}/expire"]
    assert len(expire) == 1 and expire[0][0] == "POST"
    assert fake.sessions[session_id]["status"] == "expired"
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    payment.refresh_from_db()
    assert payment.status == "failed"
    assert stock_of(product) == (10, 0, 10)
    with pytest.raises(ValueError):  # the shopper's open tab can no longer pay
        fake.complete(session_id)


def test_cancelling_after_paying_on_stripe_is_refused_and_the_order_is_paid(
    fake, order, product, user_client
):
    payment = Payment.objects.get(pk=start(user_client, order).data["id"])
    fake.complete(payment.gateway_reference)  # paid; Stripe's webhook has not arrived yet

    with TestCase.captureOnCommitCallbacks(execute=True):
        response = user_client.post(f"/api/v1/orders/{order.number}/cancel/")

    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    assert not Refund.objects.exists()
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_a_session_that_never_reached_stripe_fails_on_reconcile_after_its_window(
    fake, order, user_client, monkeypatch
):
    """Phase 2 never reached Stripe; by the time reconcile asks, a new session could not
    keep its expiry: Stripe refuses it, so no session exists and the payment fails."""
    from payments.gateways.stripe import StripeGateway

    def unreachable(self, **kwargs):
        raise SystemExit("the process died before the call")

    charge = StripeGateway.charge
    monkeypatch.setattr(StripeGateway, "charge", unreachable)
    with pytest.raises(SystemExit):
        start(user_client, order)
    monkeypatch.setattr(StripeGateway, "charge", charge)  # the process is back
    Payment.objects.update(
        created_at=timezone.now() - timedelta(hours=1),
        updated_at=timezone.now() - timedelta(hours=1),
    )

    services.payments_reconcile()

    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.failure_code) == ("failed", "not_reached")
    assert fake.sessions == {}
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT and order.payment_started_at is None
