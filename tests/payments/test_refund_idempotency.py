"""Refunds take the client's Idempotency-Key: a double submit refunds once; a refund the
provider refuses leaves the order exactly as it was."""

import threading
import time
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.db import connection
from django.test import TestCase
from rest_framework.test import APIClient

from orders import services as orders_services
from orders.models import Order
from payments.gateways.base import FAILED, RefundResult
from payments.gateways.dummy import DummyGateway
from payments.models import DummyProviderRecord, Payment, Refund
from payments.services.refunds import refund_provider_key_for
from tests.factories import UserFactory
from tests.helpers import error_code, field_errors
from tests.payments.factories import CARD_OK, ledger_clean, place_order, stock_of, stocked_product

pytestmark = pytest.mark.django_db

URL = "/api/v1/payments/{}/refunds/"


@pytest.fixture
def paid(order, pay):
    response = pay(order, CARD_OK)
    assert response.data["status"] == "succeeded"
    return Payment.objects.get(pk=response.data["id"])


@pytest.fixture
def delivered(paid, order):
    for status in ("processing", "shipped", "delivered"):
        orders_services.order_transition(order=order, to_status=status)
    return paid


def post_refund(client, payment, key, **body):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(URL.format(payment.pk), body, format="json", HTTP_IDEMPOTENCY_KEY=key)


def test_a_refund_needs_an_idempotency_key(delivered, staff_client):
    response = staff_client.post(
        URL.format(delivered.pk), {"amount": "5.00", "reason": "Late"}, format="json"
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in field_errors(response)
    assert not Refund.objects.exists()


def test_the_same_key_and_body_answers_the_same_refund(delivered, order, staff_client):
    first = post_refund(staff_client, delivered, "refund-1", amount="5.00", reason="Late")
    again = post_refund(staff_client, delivered, "refund-1", amount="5.00", reason="Late")

    assert first.status_code == 201 and again.status_code == 200
    # The same refund, as it stands now (the provider has answered since).
    assert again.data["id"] == first.data["id"] and again.data["amount"] == "5.00"
    assert again.data["status"] == "succeeded"
    assert Refund.objects.count() == 1
    delivered.refresh_from_db()
    assert delivered.refunded_amount == Decimal("5.00")
    assert DummyProviderRecord.objects.filter(kind="refund").count() == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED


def test_the_same_key_with_another_body_is_refused(delivered, staff_client):
    assert (
        post_refund(staff_client, delivered, "k", amount="5.00", reason="Late").status_code == 201
    )
    other = post_refund(staff_client, delivered, "k", amount="6.00", reason="Late")
    assert other.status_code == 422
    assert error_code(other) == "idempotency_key_reused"
    assert Refund.objects.count() == 1


def test_the_provider_key_comes_from_the_payment_key_and_the_client_key(delivered, staff_client):
    response = post_refund(staff_client, delivered, "client-key-7", amount="5.00", reason="x")
    refund = Refund.objects.get(pk=response.data["id"])
    assert refund.idempotency_key == "client-key-7"
    expected = refund_provider_key_for(payment=delivered, idempotency_key="client-key-7")
    assert refund.provider_key == expected
    assert refund.provider_key.startswith(delivered.provider_key + "-re-")
    # The same key on another refund row would ask the provider for the same refund.
    assert expected == refund_provider_key_for(payment=delivered, idempotency_key="client-key-7")
    assert expected != refund_provider_key_for(payment=delivered, idempotency_key="client-key-8")


def test_two_keys_make_two_refunds(delivered, staff_client):
    post_refund(staff_client, delivered, "a", amount="5.00", reason="Late")
    post_refund(staff_client, delivered, "b", amount="5.00", reason="Late")
    assert Refund.objects.count() == 2
    delivered.refresh_from_db()
    assert delivered.refunded_amount == Decimal("10.00")


def test_a_refused_full_refund_leaves_the_paid_order_as_it_was(
    paid, order, product, staff_client, monkeypatch, settings
):
    settings.PAYMENT_ALERT_EMAILS = ["finance@example.com"]
    monkeypatch.setattr(
        DummyGateway, "refund", lambda self, **kwargs: RefundResult(FAILED, "dummy_re_no")
    )
    order.refresh_from_db()
    before = (order.status, order.refunded_total, stock_of(product), order.events.count())
    assert before[0] == Order.Status.PAID and stock_of(product) == (7, 0, 7)

    response = post_refund(staff_client, paid, "full", amount=str(paid.amount), reason="Changed")

    assert response.status_code == 201, response.data
    assert Refund.objects.get(pk=response.data["id"]).status == "failed"
    order.refresh_from_db()
    # Not refunded, nothing back on the shelf, no event: exactly as it was.
    assert (order.status, order.refunded_total, stock_of(product), order.events.count()) == before
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount) == ("succeeded", Decimal("0.00"))
    alerts = [m for m in mail.outbox if "refused" in m.subject]
    assert len(alerts) == 1 and alerts[0].to == ["finance@example.com"]
    assert order.number in alerts[0].body
    # The order can still ship: the money was kept.
    orders_services.order_transition(order=order, to_status="processing")
    assert ledger_clean()


def test_a_refused_refund_with_restock_puts_nothing_back(
    delivered, order, product, staff_client, monkeypatch
):
    monkeypatch.setattr(
        DummyGateway, "refund", lambda self, **kwargs: RefundResult(FAILED, "dummy_re_no")
    )
    response = post_refund(
        staff_client,
        delivered,
        "restock",
        amount="12.50",
        reason="Returned",
        restock=True,
        lines=[{"product": product.pk, "quantity": 1}],
    )
    assert Refund.objects.get(pk=response.data["id"]).status == "failed"
    order.refresh_from_db()
    assert (order.status, order.refunded_total) == (Order.Status.DELIVERED, Decimal("0.00"))
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_an_accepted_full_refund_ends_the_order_only_once_the_provider_answered(
    paid, order, product, staff_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = staff_client.post(
            URL.format(paid.pk),
            {"amount": str(paid.amount), "reason": "Changed"},
            format="json",
            HTTP_IDEMPOTENCY_KEY="full-ok",
        )
    assert response.data["status"] == "processing"
    order.refresh_from_db()
    # Phase 1 only counts the money (the order cannot ship meanwhile); no status, no stock.
    assert order.status == Order.Status.PAID and order.refunded_total == order.total
    assert stock_of(product) == (7, 0, 7)

    with django_capture_on_commit_callbacks(execute=True):
        for callback in queued:
            callback()

    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert stock_of(product) == (10, 0, 10)
    assert ledger_clean()


# ------------------------------------------------------------------------------------------
# PostgreSQL, real threads
# ------------------------------------------------------------------------------------------
@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refund_posts_with_one_key_make_one_refund_and_one_gateway_call(
    monkeypatch,
):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    from django.db import connections

    user = UserFactory()
    product = stocked_product(on_hand=10, price="20.00")
    order = place_order(user, {product: 2})
    shopper = APIClient()
    shopper.force_authenticate(user=user)
    paid = shopper.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": CARD_OK},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    payment = Payment.objects.get(pk=paid.data["id"])
    for status in ("processing", "shipped", "delivered"):
        orders_services.order_transition(order=order, to_status=status)
    calls = []
    original = DummyGateway.refund

    def slow_refund(self, **kwargs):
        calls.append(kwargs["idempotency_key"])
        time.sleep(0.2)
        return original(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "refund", slow_refund)
    staff = APIClient()
    staff.force_authenticate(user=UserFactory(is_staff=True, is_superuser=True))
    n = 5
    barrier = threading.Barrier(n)
    answers, errors = [None] * n, []

    def post(index):
        try:
            barrier.wait(timeout=10)
            response = staff.post(
                URL.format(payment.pk),
                {"amount": "15.00", "reason": "double click"},
                format="json",
                HTTP_IDEMPOTENCY_KEY="the-same-key",
            )
            answers[index] = (response.status_code, response.data.get("id"))
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=post, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert sorted(status for status, _ in answers) == [200, 200, 200, 200, 201]
    assert len({refund_id for _, refund_id in answers}) == 1
    assert Refund.objects.count() == 1
    assert len(calls) == 1  # one call reached the provider
    payment.refresh_from_db()
    assert payment.refunded_amount == Decimal("15.00")
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    assert order.refunded_total == Decimal("15.00")
