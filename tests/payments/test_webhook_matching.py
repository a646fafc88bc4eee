"""Webhooks must match the payment they settle; refused deliveries stay small and are purged."""

import json
import uuid
from datetime import timedelta
from unittest import mock

import pytest
from django.core import mail
from django.db.models.functions import Length
from django.utils import timezone

from orders.models import Order
from payments import services
from payments.models import Payment, WebhookEvent
from tests.payments.factories import CARD_PENDING, event_body, sign

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending_payment(order, pay):
    response = pay(order, CARD_PENDING, run_on_commit=False)
    return Payment.objects.get(pk=response.data["id"])


def _body(payment, **data):
    payload = {
        "payment": payment.gateway_reference,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
    }
    payload.update(data)
    payload = {k: v for k, v in payload.items() if v is not None}
    return json.dumps(
        {"id": f"evt_{uuid.uuid4().hex}", "type": "payment.succeeded", "data": payload}
    ).encode()


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"amount": "0.01"}, "amount 0.01"),
        ({"currency": "USD"}, "currency USD"),
        ({"amount": None}, "no amount"),
        ({"currency": None}, "currency (none)"),
    ],
)
def test_a_signed_event_that_does_not_match_changes_nothing_but_a_review_flag(
    pending_payment, order, product, deliver, staff_user, change, reason
):
    with mock.patch("payments.services.webhooks.logger") as log:
        response = deliver(_body(pending_payment, **change))
    assert response.status_code == 200  # verified and stored: the provider must not retry
    pending_payment.refresh_from_db()
    assert pending_payment.status == "review"
    assert reason in pending_payment.review_reason
    assert pending_payment.gateway_status == "pending"  # not trusted
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert order.paid_at is None
    assert "does not match payment" in log.error.call_args.args[0]
    alert = [m for m in mail.outbox if "needs review" in m.subject]
    assert alert and staff_user.email in alert[0].to and reason in alert[0].body
    assert WebhookEvent.objects.get(signature_valid=True).processed_at is not None


def test_an_event_for_another_gateways_payment_is_held(pending_payment, order, deliver):
    Payment.objects.filter(pk=pending_payment.pk).update(gateway="stripe")
    deliver(event_body("payment.succeeded", pending_payment))
    pending_payment.refresh_from_db()
    assert pending_payment.status == "review"
    assert "the payment is with stripe" in pending_payment.review_reason
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_staff_approving_a_mismatch_waits_for_a_trusted_settlement(
    pending_payment, order, deliver, staff_user
):
    deliver(_body(pending_payment, amount="0.01"))
    services.payment_review_approve(payment=pending_payment, actor=staff_user)
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"
    deliver(event_body("payment.succeeded", pending_payment))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_a_flood_of_unsigned_posts_keeps_the_inbox_small(pending_payment, deliver, caplog):
    big = json.dumps({"id": "evt_x", "type": "payment.succeeded", "data": {"x": "y" * 80_000}})
    for _ in range(20):
        response = deliver(big.encode(), signature="t=1,v1=00")
        assert response.status_code == 400
    refused = WebhookEvent.objects.filter(signature_valid=False)
    assert refused.count() == 20
    sizes = refused.annotate(n=Length("raw_body")).values_list("n", flat=True)
    assert max(sizes) <= 1024
    assert sum(sizes) <= 20 * 1024  # today: +1.4 MB for the same flood
    assert all("80" in e.error for e in refused)  # the size is kept as metadata
    assert "webhook refused" in caplog.text


def test_the_purge_drops_processed_and_refused_rows_past_the_retention(
    pending_payment, deliver, settings
):
    settings.WEBHOOK_RETENTION_DAYS = 30
    deliver(event_body("payment.succeeded", pending_payment, "evt_done"))
    deliver(b"{}", signature="t=1,v1=00")
    WebhookEvent.objects.create(
        gateway="dummy", event_id="evt_unprocessed", type="payment.failed", signature_valid=True
    )
    assert services.webhook_events_purge() == 0  # all recent
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(days=31))
    WebhookEvent.objects.filter(processed_at__isnull=False).update(
        processed_at=timezone.now() - timedelta(days=31)
    )
    assert services.webhook_events_purge() == 2
    # An event never processed is kept (the retry sweep or staff still need it).
    assert list(WebhookEvent.objects.values_list("event_id", flat=True)) == ["evt_unprocessed"]


def test_delivery_is_acknowledged_before_processing(pending_payment, order, secret):
    from rest_framework.test import APIClient

    body = event_body("payment.succeeded", pending_payment, "evt_ack")
    response = APIClient().generic(
        "POST",
        "/api/v1/payments/webhooks/dummy/",
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE=sign(body, secret),
    )  # the worker's drain runs after commit, not in this request
    assert response.status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_ack").processed_at is None
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert services.webhooks_drain() == {"processed": 1, "skipped": 0, "failed": 0}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert services.webhooks_drain() == {"processed": 0, "skipped": 0, "failed": 0}


def test_refused_posts_past_the_rate_are_answered_429_and_not_stored(pending_payment, deliver):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    cache.clear()
    rates = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = {**rates, "webhook": "3/min"}
    try:
        answers = [deliver(b"{}", signature="t=1,v1=00").status_code for _ in range(5)]
        assert answers == [400, 400, 400, 429, 429]
        assert WebhookEvent.objects.filter(signature_valid=False).count() == 3
        # A signed delivery from the provider is never turned away.
        assert deliver(event_body("payment.succeeded", pending_payment)).status_code == 200
    finally:
        SimpleRateThrottle.THROTTLE_RATES = rates
