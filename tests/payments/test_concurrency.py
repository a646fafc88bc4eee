"""Races on PostgreSQL with real threads: money moves once.

Payment starts racing each other or a cancel reach the gateway once and never end in a
charge that is refunded at once; refunds never exceed the payment; webhooks and cancels do
not deadlock.
"""

import threading
import time
import uuid
from decimal import Decimal
from http.cookies import SimpleCookie

import pytest
from django.db import connection, connections
from django.test import Client
from rest_framework.test import APIClient

from orders import services as orders_services
from orders.models import Order
from payments import dummy_provider
from payments.gateways.dummy import DummyGateway
from payments.models import DummyProviderRecord, Payment, Refund
from tests.factories import UserFactory
from tests.helpers import error_code
from tests.payments.factories import (
    CARD_OK,
    CARD_PENDING,
    WEBHOOK_URL,
    event_body,
    ledger_clean,
    place_order,
    sign,
    stock_of,
    stocked_product,
)

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture(autouse=True)
def _postgres_only(settings):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }


def _run_together(*calls):
    barrier = threading.Barrier(len(calls))
    results, errors = [None] * len(calls), []

    def run(index, call):
        try:
            barrier.wait(timeout=10)
            results[index] = call()
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, c)) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    return results


def _paid_order(card=CARD_OK):
    user = UserFactory()
    product = stocked_product(on_hand=10, price="20.00")
    order = place_order(user, {product: 2})
    client = APIClient()
    client.force_authenticate(user=user)
    response = client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": card},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    return order, product, Payment.objects.get(pk=response.data["id"])


def test_concurrent_refunds_never_exceed_the_payment():
    order, _, payment = _paid_order()
    for status in ("processing", "shipped", "delivered"):
        orders_services.order_transition(order=order, to_status=status)
    staff = APIClient()
    staff.force_authenticate(user=UserFactory(is_staff=True, is_superuser=True))
    share = (payment.amount * Decimal("0.6")).quantize(Decimal("0.01"))

    def refund():
        return staff.post(
            f"/api/v1/payments/{payment.pk}/refunds/",
            {"amount": str(share), "reason": "race"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ).status_code

    statuses = _run_together(*[refund] * 5)
    assert sorted(statuses) == [201, 400, 400, 400, 400]
    payment.refresh_from_db()
    assert payment.refunded_amount == share
    assert Refund.objects.count() == 1
    order.refresh_from_db()
    assert order.status == "partially_refunded"


def _answer(response):
    return response.status_code, error_code(response) if response.status_code >= 400 else ""


def test_webhook_success_racing_a_shopper_cancel_is_paid_or_cancelled_never_refunded(settings):
    """A payment waiting for its bank: the cancel cannot close it, so it never wins over money."""
    secret = settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]
    for _ in range(3):
        client, order, product = _shopper_with_order()
        started = client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy", "card_number": CARD_PENDING},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        payment = Payment.objects.get(pk=started.data["id"])
        assert payment.status == "pending"
        body = event_body("payment.succeeded", payment)

        def deliver(body=body):
            return (
                APIClient()
                .generic(
                    "POST",
                    WEBHOOK_URL,
                    body,
                    content_type="application/json",
                    HTTP_X_SIGNATURE=sign(body, secret),
                )
                .status_code
            )

        def cancel(client=client, order=order):
            return _answer(client.post(f"/api/v1/orders/{order.number}/cancel/"))

        delivered, (cancel_status, cancel_code) = _run_together(deliver, cancel)
        assert delivered == 200
        order.refresh_from_db()
        payment.refresh_from_db()
        assert not Refund.objects.filter(payment__order=order).exists()  # never charged back
        if order.status == Order.Status.PAID:
            assert payment.status == "succeeded"
            assert (cancel_status, cancel_code) in (
                (409, "payment_in_progress"),
                (409, "invalid_transition"),
            )
            assert stock_of(product) == (9, 0, 9)
        else:
            assert order.status == Order.Status.CANCELLED and cancel_status == 200
            assert payment.status == "failed" and payment.refunded_amount == 0
            assert stock_of(product) == (10, 0, 10)
    assert ledger_clean()


def test_paying_on_the_hosted_page_racing_a_shopper_cancel_is_paid_or_cancelled():
    """Pay vs cancel on the hosted path: one of them wins at the provider; no refund ever."""
    outcomes = set()
    for round_ in range(6):
        client, order, product = _shopper_with_order()
        opened = client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy"},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        assert opened.status_code == 201 and opened.data["redirect_url"], opened.data
        payment = Payment.objects.get(pk=opened.data["id"])

        def pay(payment=payment, delay=0.05 * (round_ % 4)):
            time.sleep(delay)  # the shopper types the card while the cancel is on its way
            return dummy_provider.checkout_pay(
                reference=payment.gateway_reference, card_number=CARD_OK
            )

        def cancel(client=client, order=order):
            return _answer(client.post(f"/api/v1/orders/{order.number}/cancel/"))

        back_to, (cancel_status, cancel_code) = _run_together(pay, cancel)
        order.refresh_from_db()
        payment.refresh_from_db()
        record = DummyProviderRecord.objects.get(kind="payment", key=payment.provider_key)
        assert not Refund.objects.filter(payment__order=order).exists()  # never charged back
        if order.status == Order.Status.PAID:
            outcomes.add("paid")
            assert (payment.status, record.status) == ("succeeded", "succeeded")
            assert (cancel_status, cancel_code) in (
                (409, "payment_in_progress"),
                (409, "invalid_transition"),
            )
            assert back_to == payment.return_url
            assert stock_of(product) == (9, 0, 9)
        else:
            outcomes.add("cancelled")
            assert order.status == Order.Status.CANCELLED and cancel_status == 200
            assert (payment.status, record.status) == ("failed", "failed")
            assert back_to == payment.cancel_url  # the provider took nothing
            assert stock_of(product) == (10, 0, 10)
    assert outcomes  # each round ended one way or the other
    assert ledger_clean()


def test_staff_cancel_racing_a_staff_refund_does_not_deadlock_or_restock_twice():
    order, product, payment = _paid_order()
    staff = APIClient()
    staff.force_authenticate(user=UserFactory(is_staff=True, is_superuser=True))

    def refund():
        return staff.post(
            f"/api/v1/payments/{payment.pk}/refunds/",
            {
                "amount": "5.00",
                "reason": "race",
                "restock": True,
                "lines": [{"product": product.pk, "quantity": 1}],
            },
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        ).status_code

    def cancel():
        return staff.post(
            f"/api/v1/orders/{order.number}/transition/", {"status": "cancelled"}, format="json"
        ).status_code

    refund_status, cancel_status = _run_together(refund, cancel)
    assert cancel_status == 200
    payment.refresh_from_db()
    assert payment.status == "refunded"
    assert payment.refunded_amount == payment.amount
    order.refresh_from_db()
    assert order.status == "cancelled"
    assert refund_status == 400  # no restock before shipping, or nothing left to refund
    assert stock_of(product) == (10, 0, 10)  # orders put the goods back, once
    assert ledger_clean()


@pytest.fixture
def slow_charges(monkeypatch):
    """Count calls that reach the dummy provider, and make each take a while (a real one does)."""
    calls = []
    original = DummyGateway.charge

    def charge(self, **kwargs):
        calls.append(kwargs["idempotency_key"])
        time.sleep(0.3)
        return original(self, **kwargs)

    monkeypatch.setattr(DummyGateway, "charge", charge)
    return calls


def _shopper_with_order():
    user = UserFactory()
    product = stocked_product(on_hand=10, price="14.90")
    order = place_order(user, {product: 1})
    client = APIClient()
    client.force_authenticate(user=user)
    return client, order, product


def _start(client, order):
    def call():
        response = client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy", "card_number": CARD_OK},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
        return response.status_code, error_code(response) if response.status_code >= 400 else ""

    return call


def test_concurrent_payment_starts_reach_the_gateway_once(slow_charges):
    client, order, product = _shopper_with_order()

    answers = _run_together(*[_start(client, order)] * 5)

    assert len(slow_charges) == 1  # one charge at the provider
    assert sorted(status for status, _ in answers) == [201, 409, 409, 409, 409]
    assert {code for status, code in answers if status == 409} <= {
        "payment_in_progress",
        "invalid_transition",
    }
    assert Payment.objects.filter(order=order).count() == 1
    assert Refund.objects.count() == 0  # no charge-then-refund pairs
    order.refresh_from_db()
    assert order.status == "paid"
    assert stock_of(product) == (9, 0, 9)
    assert ledger_clean()


def test_payment_racing_a_cancel_is_paid_or_cancelled_never_charged_and_refunded(slow_charges):
    for _ in range(3):
        client, order, product = _shopper_with_order()

        def cancel(client=client, order=order):
            time.sleep(0.1)  # while the payment talks to the provider
            response = client.post(f"/api/v1/orders/{order.number}/cancel/")
            return response.status_code, error_code(response) if response.status_code >= 400 else ""

        (pay_status, pay_code), (cancel_status, cancel_code) = _run_together(
            _start(client, order), cancel
        )
        order.refresh_from_db()
        assert Refund.objects.filter(payment__order=order).count() == 0
        if order.status == Order.Status.PAID:
            assert pay_status == 201
            assert (cancel_status, cancel_code) in (
                (409, "payment_in_progress"),
                (409, "invalid_transition"),
            )
            assert stock_of(product) == (9, 0, 9)
        else:
            assert order.status == Order.Status.CANCELLED
            assert cancel_status == 200
            assert (pay_status, pay_code) == (409, "invalid_transition")
            assert not Payment.objects.filter(order=order, status="succeeded").exists()
            assert stock_of(product) == (10, 0, 10)
    assert ledger_clean()


def _tabs(user, count):
    """`count` browser tabs of one signed-in shopper: one session, a client per tab."""
    first = Client()
    first.force_login(user)
    tabs = [first]
    for _ in range(count - 1):
        tab = Client()
        tab.cookies = SimpleCookie({k: v.value for k, v in first.cookies.items()})
        tabs.append(tab)
    return tabs


def _tab_submits(tab, order, fields):
    """Load the pay page in the tab (its own idempotency key), return the submit to run later."""
    page = tab.get(f"/orders/{order.number}/pay/")
    assert page.status_code == 200
    key = page.context["form"].initial["idempotency_key"]

    def submit():
        response = tab.post(f"/orders/{order.number}/pay/", {**fields, "idempotency_key": key})
        return response.status_code, response.get("Location", ""), response.content.decode()

    return submit


def test_four_tabs_paying_one_order_on_the_pay_page_charge_once(slow_charges):
    """The pay page with the test card, submitted from four tabs at once: one charge."""
    user = UserFactory()
    product = stocked_product(on_hand=10, price="14.90")
    order = place_order(user, {product: 1})
    submits = [_tab_submits(tab, order, {"card_number": CARD_OK}) for tab in _tabs(user, 4)]

    answers = _run_together(*submits)

    assert len(slow_charges) == 1  # one charge at the provider
    success = f"/orders/{order.number}/pay/success/"
    assert [location for _, location, _ in answers].count(success) == 1
    for status, location, html in answers:
        if location != success:  # the others are told, in words, and charged nothing
            assert status == 200, (status, location)
            told = ("Another payment for this order is in progress.", "the order is paid.")
            assert any(words in html for words in told), html  # it lost, or came after
    order.refresh_from_db()
    assert order.status == "paid"
    assert Payment.objects.filter(order=order).count() == 1
    assert not Refund.objects.filter(payment__order=order).exists()
    assert stock_of(product) == (9, 0, 9)
    assert ledger_clean()


def test_four_tabs_opening_the_hosted_checkout_open_one_checkout():
    """Four tabs pressing "Go to the provider" at once share one checkout; one charge."""
    user = UserFactory()
    product = stocked_product(on_hand=10, price="14.90")
    order = place_order(user, {product: 1})
    submits = [_tab_submits(tab, order, {"gateway": "dummy"}) for tab in _tabs(user, 4)]

    answers = _run_together(*submits)

    payment = Payment.objects.get(order=order)  # one payment, one checkout at the provider
    assert payment.redirect_url
    redirected = [location for status, location, _ in answers if status == 302]
    assert redirected and set(redirected) == {payment.redirect_url}
    for status, _, html in answers:
        assert status in (200, 302)
        if status == 200:
            assert "Another payment for this order is in progress." in html, html
    assert DummyProviderRecord.objects.filter(kind="payment").count() == 1
    back_to = dummy_provider.checkout_pay(reference=payment.gateway_reference, card_number=CARD_OK)
    assert back_to == payment.return_url
    order.refresh_from_db()
    assert order.status == "paid"
    assert not Refund.objects.filter(payment__order=order).exists()
    assert stock_of(product) == (9, 0, 9)
    assert ledger_clean()
