"""POST /api/v1/payments/webhooks/{gateway}/: verified, stored first, processed once."""

import json
import threading
import time
import uuid
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection, connections
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import tasks as inventory_tasks
from inventory.models import Reservation
from orders.models import Order
from payments import services
from payments.models import Payment, Refund, WebhookEvent
from tests.helpers import error_code, field_errors
from tests.payments.factories import (
    CARD_PENDING,
    WEBHOOK_URL,
    event_body,
    ledger_clean,
    place_order,
    sign,
    stock_of,
    stocked_product,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending_payment(order, pay):
    """A payment that answered `pending` and waits for its webhook (the order is unpaid)."""
    response = pay(order, CARD_PENDING, run_on_commit=False)
    return Payment.objects.get(pk=response.data["id"])


def _snapshot(order):
    order.refresh_from_db()
    payments = list(Payment.objects.filter(order=order).values_list("status", "refunded_amount"))
    return order.status, payments


def test_signed_success_marks_the_order_paid(pending_payment, order, product, deliver):
    response = deliver(event_body("payment.succeeded", pending_payment, "evt_1"))
    assert response.status_code == 200, response.data
    assert response.data == {"detail": "Received.", "event_id": "evt_1", "duplicate": False}
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)
    event = WebhookEvent.objects.get(event_id="evt_1")
    assert event.processed_at is not None and event.error == ""


def test_same_event_again_is_answered_but_done_once(pending_payment, order, deliver):
    body = event_body("payment.succeeded", pending_payment, "evt_dup")
    deliver(body)
    again = deliver(body)
    assert again.status_code == 200
    assert again.data["duplicate"] is True
    assert WebhookEvent.objects.filter(event_id="evt_dup").count() == 1
    assert order.events.filter(to_status="paid").count() == 1


def test_tampered_body_is_refused_and_changes_nothing(pending_payment, order, deliver, secret):
    body = event_body("payment.succeeded", pending_payment, "evt_t")
    signature = sign(body, secret)
    tampered = body.replace(b'"evt_t"', b'"evt_x"')
    before = _snapshot(order)
    response = deliver(tampered, signature=signature)
    assert response.status_code == 400
    assert response.data["code"] == "invalid_signature"
    assert _snapshot(order) == before
    refused = WebhookEvent.objects.get()
    assert refused.signature_valid is False and refused.processed_at is None
    # The genuine event still goes through afterwards.
    assert deliver(body, signature=signature).status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_wrong_secret_is_refused(pending_payment, order, deliver):
    body = event_body("payment.succeeded", pending_payment)
    response = deliver(body, signature=sign(body, "not-the-secret"))
    assert response.status_code == 400
    assert response.data["code"] == "invalid_signature"
    assert _snapshot(order)[0] == Order.Status.PENDING_PAYMENT


@pytest.mark.parametrize("age", [301, -301, 3600])
def test_stale_or_future_signature_is_refused(pending_payment, order, deliver, secret, age):
    body = event_body("payment.succeeded", pending_payment)
    response = deliver(body, signature=sign(body, secret, int(time.time()) - age))
    assert response.status_code == 400
    assert response.data["code"] == "signature_expired"
    assert _snapshot(order)[0] == Order.Status.PENDING_PAYMENT
    assert not WebhookEvent.objects.filter(processed_at__isnull=False).exists()


@pytest.mark.parametrize("header", ["", "t=abc,v1=00", "v1=abcdef", "t=123", "t=1,v1=é", "garbage"])
def test_missing_or_malformed_signature_header_is_refused(pending_payment, deliver, header):
    body = event_body("payment.succeeded", pending_payment)
    response = deliver(body, signature=header)
    assert response.status_code == 400
    assert response.data["code"] == "invalid_signature"


def test_unknown_gateway_is_refused(pending_payment, deliver, secret):
    body = event_body("payment.succeeded", pending_payment)
    response = deliver(body, url="/api/v1/payments/webhooks/stripe/")
    assert response.status_code == 400
    assert response.data["code"] == "unknown_gateway"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


@pytest.mark.parametrize(
    "body",
    [
        b"{not json",
        b"[]",
        b'{"id": "evt_1", "type": "payment.succeeded"}',
        b'{"id": 5, "type": "payment.succeeded", "data": {}}',
        b'{"id": "evt_1", "type": "payment.succeeded", "data": {"payment": "\\u0000"}}',
        b"\xff\xfe",
    ],
)
def test_malformed_json_is_refused_even_when_signed(pending_payment, deliver, body):
    response = deliver(body)
    assert response.status_code == 400
    assert response.data["code"] == "malformed_payload"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"
    assert not WebhookEvent.objects.filter(signature_valid=True).exists()


def test_late_failure_after_success_changes_nothing(pending_payment, order, deliver):
    deliver(event_body("payment.succeeded", pending_payment, "evt_ok"))
    response = deliver(event_body("payment.failed", pending_payment, "evt_late_fail"))
    assert response.status_code == 200
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert WebhookEvent.objects.get(event_id="evt_late_fail").processed_at is not None


def test_failure_leaves_the_order_payable(pending_payment, order, product, deliver, pay):
    deliver(event_body("payment.failed", pending_payment, failure_code="card_declined"))
    pending_payment.refresh_from_db()
    assert pending_payment.status == "failed"
    assert pending_payment.failure_code == "card_declined"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert stock_of(product) == (10, 3, 7)
    assert pay(order, "4242424242424242").data["status"] == "succeeded"


def test_webhook_before_the_payment_is_known_is_kept_and_retried(order, deliver):
    payment = Payment(gateway_reference="dummy_pay_unknown", amount=order.total)
    response = deliver(event_body("payment.succeeded", payment, "evt_early"))
    assert response.status_code == 200  # stored; processing failed and will be retried
    event = WebhookEvent.objects.get(event_id="evt_early")
    assert event.processed_at is None
    assert event.attempts >= 1
    assert "dummy_pay_unknown" in event.error


def test_a_payment_pending_at_the_bank_holds_the_expiry_and_then_pays_the_order(
    pending_payment, order, product, deliver, django_capture_on_commit_callbacks
):
    """The bank may still take the money: the order is not expired under it (no refund)."""
    # Time passes: the payment started in time, the reservation time has run out since.
    Reservation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    Order.objects.filter(pk=order.pk).update(
        reservation_expires_at=timezone.now() - timedelta(minutes=1),
        payment_started_at=timezone.now() - timedelta(minutes=2),
    )
    with django_capture_on_commit_callbacks(execute=True):
        with pytest.raises(inventory_tasks.ReservationExpiryFailed):
            inventory_tasks.reservations_release_expired()
        # Payments' job cannot close a payment its bank is confirming either.
        assert services.orders_expire_with_open_checkouts()["refused"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert stock_of(product) == (10, 3, 7)

    response = deliver(event_body("payment.succeeded", pending_payment, "evt_late_ok"))

    assert response.status_code == 200
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"
    assert not Refund.objects.filter(payment=pending_payment).exists()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_success_past_the_reservation_time_is_refunded_even_before_expiry_ran(
    pending_payment, order, deliver
):
    Order.objects.filter(pk=order.pk).update(
        reservation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    deliver(event_body("payment.succeeded", pending_payment))
    pending_payment.refresh_from_db()
    assert pending_payment.status == "refunded"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT  # the expiry task expires it next


def test_a_second_payment_while_one_is_pending_is_refused(pending_payment, order, pay, deliver):
    response = pay(order, "4242424242424242")
    assert response.status_code == 409
    assert error_code(response) == "payment_in_progress"
    deliver(event_body("payment.succeeded", pending_payment))
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"
    assert Payment.objects.filter(order=order).count() == 1
    assert order.events.filter(to_status="paid").count() == 1


def test_refund_succeeded_event_confirms_a_pending_refund(pending_payment, deliver):
    deliver(event_body("payment.succeeded", pending_payment))
    pending_payment.refresh_from_db()
    refund = Refund.objects.create(
        payment=pending_payment, amount=1, reason="x", status="pending", gateway_reference="re_1"
    )
    body = json.dumps(
        {"id": "evt_re", "type": "refund.succeeded", "data": {"refund": "re_1"}}
    ).encode()
    assert deliver(body).status_code == 200
    refund.refresh_from_db()
    assert refund.status == "succeeded"


def test_unprocessed_events_are_retried_by_the_sweep(pending_payment, order, secret):
    body = event_body("payment.succeeded", pending_payment, "evt_lost")
    # Stored, but the processing task was lost (its on-commit hook never ran).
    services.webhook_receive(
        gateway="dummy", body=body, headers={"X-Signature": sign(body, secret)}
    )
    assert WebhookEvent.objects.get(event_id="evt_lost").processed_at is None
    WebhookEvent.objects.update(received_at=timezone.now() - timedelta(minutes=5))
    assert services.webhook_process_pending() == {"processed": 1, "skipped": 0, "failed": 0}
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert services.webhook_process_pending() == {"processed": 0, "skipped": 0, "failed": 0}


# ------------------------------------------------------------------------------
# Concurrency (PostgreSQL)
# ------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_same_webhook_delivered_ten_times_concurrently_is_processed_once(secret, settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }
    from tests.factories import UserFactory

    user = UserFactory()
    product = stocked_product(on_hand=10)
    order = place_order(user, {product: 2})
    client = APIClient()
    client.force_authenticate(user=user)
    response = client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": "4000000000003220"},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    payment = Payment.objects.get(pk=response.data["id"])
    assert payment.status == "pending"

    body = event_body("payment.succeeded", payment, f"evt_{uuid.uuid4().hex}")
    header = sign(body, secret)
    barrier = threading.Barrier(10)
    answers, errors = [], []

    def deliver_once():
        try:
            barrier.wait(timeout=10)
            answer = APIClient().generic(
                "POST",
                WEBHOOK_URL,
                body,
                content_type="application/json",
                HTTP_X_SIGNATURE=header,
            )
            answers.append(answer.status_code)
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=deliver_once) for _ in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert answers == [200] * 10
    assert WebhookEvent.objects.filter(signature_valid=True).count() == 1
    assert WebhookEvent.objects.get(signature_valid=True).processed_at is not None
    order.refresh_from_db()
    assert order.status == "paid"
    assert order.events.filter(to_status="paid").count() == 1
    assert stock_of(product) == (8, 0, 8)
    assert ledger_clean()


def test_refused_attempts_are_logged(pending_payment, deliver, caplog):
    body = event_body("payment.succeeded", pending_payment)
    with caplog.at_level("WARNING", logger="payments.services"):
        deliver(body, signature=sign(body, "forged"))
    assert "webhook refused" in caplog.text and "invalid_signature" in caplog.text


def test_unknown_event_types_are_stored_and_ignored(pending_payment, deliver):
    body = json.dumps({"id": "evt_new", "type": "payment.created", "data": {}}).encode()
    assert deliver(body).status_code == 200
    assert WebhookEvent.objects.get(event_id="evt_new").processed_at is not None
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"


@pytest.mark.django_db(transaction=True)
def test_dummy_webhook_send_posts_over_http(live_server, settings):
    """The management command signs and POSTs like the provider; the server settles the order."""
    from io import StringIO

    from django.core.management import call_command

    from tests.factories import UserFactory

    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }
    user = UserFactory()
    order = place_order(user, {stocked_product(on_hand=3): 1})
    client = APIClient()
    client.force_authenticate(user=user)
    response = client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": CARD_PENDING},
        format="json",
        HTTP_IDEMPOTENCY_KEY="http",
    )
    out = StringIO()
    call_command(
        "dummy_webhook_send",
        str(response.data["id"]),
        url=live_server.url + WEBHOOK_URL,
        stdout=out,
    )
    assert out.getvalue().startswith("200 ")
    order.refresh_from_db()
    assert order.status == "paid"


def test_a_disabled_dummy_gateway_takes_no_webhooks_and_no_payments(
    pending_payment, order, deliver, pay, settings
):
    """Production runs without the dummy gateway unless DUMMY_GATEWAY_ENABLED is set."""
    settings.PAYMENT_GATEWAYS = {}
    response = deliver(event_body("payment.succeeded", pending_payment))
    assert response.status_code == 400
    assert response.data["code"] == "unknown_gateway"
    pending_payment.refresh_from_db()
    assert pending_payment.status == "pending"
    refused = pay(order, "4242424242424242")
    assert refused.status_code == 400
    assert "gateway" in field_errors(refused)


@pytest.mark.parametrize(
    ("field", "value"),
    [("failure_code", "card\u0000declined"), ("failure_code", "\ud800")],
)
def test_a_signed_event_with_unstorable_text_is_processed_not_poisoned(
    pending_payment, deliver, field, value
):
    """A NUL or a lone surrogate in a signed event's text would fail every attempt."""
    body = json.dumps(
        {
            "id": f"evt_{uuid.uuid4().hex}",
            "type": "payment.failed",
            "data": {"payment": pending_payment.gateway_reference, field: value},
        }
    ).encode()

    assert deliver(body).status_code == 200

    event = WebhookEvent.objects.get(signature_valid=True)
    assert event.processed_at is not None and event.error == ""
    pending_payment.refresh_from_db()
    assert pending_payment.status == "failed"
    assert "\x00" not in pending_payment.failure_code


@pytest.mark.parametrize(
    ("change", "reason"),
    [({"amount": "999.00"}, "amount 999.00"), ({"currency": "USD"}, "currency USD")],
)
def test_a_refund_event_that_does_not_match_its_refund_is_not_applied(
    pending_payment, deliver, staff_user, change, reason
):
    deliver(event_body("payment.succeeded", pending_payment))
    refund = Refund.objects.create(
        payment=pending_payment, amount=1, reason="x", status="pending", gateway_reference="re_2"
    )
    data = {"refund": "re_2", "amount": "1.00", "currency": "EUR", **change}
    body = json.dumps({"id": "evt_re2", "type": "refund.succeeded", "data": data}).encode()

    assert deliver(body).status_code == 200

    refund.refresh_from_db()
    assert refund.status == "pending"
    alert = [m for m in mail.outbox if f"Refund {refund.pk} needs a look" in m.subject]
    assert alert and reason in alert[0].body
    assert WebhookEvent.objects.get(event_id="evt_re2").processed_at is not None
