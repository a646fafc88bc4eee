"""POST /api/v1/payments/{id}/refunds/ and the refund of a cancelled paid order."""

import uuid
from decimal import Decimal
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import TestCase

from orders import services as orders_services
from orders.models import Order
from outbox.models import OutboxMessage
from payments.gateways.base import FAILED, RefundResult
from payments.gateways.dummy import DummyGateway
from payments.models import Payment, Refund
from tests.helpers import field_errors
from tests.payments.factories import CARD_OK, ledger_clean, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid(order, pay):
    """The `order` paid by card; returns its payment."""
    response = pay(order, CARD_OK)
    assert response.data["status"] == "succeeded"
    return Payment.objects.get(pk=response.data["id"])


@pytest.fixture
def delivered(paid, order):
    for status in ("processing", "shipped", "delivered"):
        orders_services.order_transition(order=order, to_status=status)
    return paid


def refund(client, payment, **body):
    """Ask for a refund; what is queued after commit (the gateway call, emails) runs too."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return client.post(
            f"/api/v1/payments/{payment.pk}/refunds/",
            body,
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )


def transition(order, status):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return orders_services.order_transition(order=order, to_status=status)


def check_stock_output() -> str:
    out = StringIO()
    call_command("check_stock", stdout=out)
    return out.getvalue()


def test_full_refund_with_restock_refunds_the_order_and_returns_the_goods(
    delivered, order, product, staff_client
):
    assert stock_of(product) == (7, 0, 7)
    response = refund(
        staff_client, delivered, amount=str(order.total), reason="Broken", restock=True
    )
    assert response.status_code == 201, response.data
    # Recorded at once; the gateway is called after commit (here: right after).
    assert response.data["status"] == "processing"
    assert Refund.objects.get(pk=response.data["id"]).status == "succeeded"
    assert response.data["restocked_lines"] == {str(product.pk): 3}
    delivered.refresh_from_db()
    assert delivered.status == "refunded"
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert stock_of(product) == (10, 0, 10)
    assert "agree" in check_stock_output()


def test_partial_refunds_until_nothing_is_left(delivered, order, product, staff_client):
    first = refund(
        staff_client,
        delivered,
        amount="10.00",
        reason="One broken",
        restock=True,
        lines=[{"product": product.pk, "quantity": 1}],
    )
    assert first.status_code == 201, first.data
    order.refresh_from_db()
    assert order.status == Order.Status.PARTIALLY_REFUNDED
    delivered.refresh_from_db()
    assert delivered.status == "partially_refunded"
    assert stock_of(product) == (8, 0, 8)

    too_much = refund(staff_client, delivered, amount=str(order.total), reason="All")
    assert too_much.status_code == 400
    assert too_much.data["code"] == "refund_exceeds_payment"
    assert too_much.data["refundable"] == f"{order.total - Decimal('10.00'):.2f}"

    rest = refund(
        staff_client, delivered, amount=str(order.total - 10), reason="Rest", restock=True
    )
    assert rest.status_code == 201, rest.data
    assert rest.data["restocked_lines"] == {str(product.pk): 2}
    order.refresh_from_db()
    assert order.status == Order.Status.REFUNDED
    assert stock_of(product) == (10, 0, 10)
    assert ledger_clean()

    nothing_left = refund(staff_client, delivered, amount="0.01", reason="More")
    assert nothing_left.status_code == 400
    assert nothing_left.data["code"] == "refund_exceeds_payment"


def test_refund_over_the_payment_changes_nothing(delivered, order, staff_client):
    response = refund(staff_client, delivered, amount=str(order.total + 1), reason="x")
    assert response.status_code == 400
    assert response.data["code"] == "refund_exceeds_payment"
    delivered.refresh_from_db()
    assert delivered.refunded_amount == 0
    assert not Refund.objects.exists()


def test_restocking_more_than_was_sold_is_refused(delivered, product, staff_client):
    response = refund(
        staff_client,
        delivered,
        amount="1.00",
        reason="x",
        restock=True,
        lines=[{"product": product.pk, "quantity": 4}],
    )
    assert response.status_code == 400
    assert response.data["code"] == "restock_not_possible"
    assert stock_of(product) == (7, 0, 7)


def test_refund_without_restock_keeps_stock(delivered, order, product, staff_client):
    response = refund(staff_client, delivered, amount=str(order.total), reason="Goodwill")
    assert response.status_code == 201
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_only_staff_refund(delivered, user_client):
    response = refund(user_client, delivered, amount="1.00", reason="please")
    assert response.status_code == 403
    assert not Refund.objects.exists()


def test_unknown_payment_is_404(staff_client):
    response = staff_client.post(
        "/api/v1/payments/999999/refunds/",
        {"amount": "1.00", "reason": "x"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-404",
    )
    assert response.status_code == 404


def test_a_declined_payment_cannot_be_refunded(order, pay, staff_client):
    response = pay(order, "4000000000000002")
    payment = Payment.objects.get(pk=response.data["id"])
    answer = refund(staff_client, payment, amount="1.00", reason="x")
    assert answer.status_code == 409
    assert answer.data["code"] == "payment_not_refundable"


@pytest.mark.parametrize("amount", ["0", "-5", "abc", "1e12", "0.001", "NaN"])
def test_bad_amounts_are_field_errors(delivered, staff_client, amount):
    response = refund(staff_client, delivered, amount=amount, reason="x")
    assert response.status_code == 400
    assert "amount" in field_errors(response)


def test_staff_cancelling_a_paid_order_refunds_it(paid, order, product, staff_client):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = staff_client.post(
            f"/api/v1/orders/{order.number}/transition/", {"status": "cancelled"}, format="json"
        )
        # Nothing is refunded inside the orders transaction: the refund is queued.
        paid.refresh_from_db()
        assert paid.status == "succeeded"
        assert OutboxMessage.objects.filter(
            task_name="payments.tasks.order_payments_refund"
        ).exists()
    assert response.status_code == 200, response.data
    paid.refresh_from_db()
    assert paid.status == "refunded"
    assert paid.refunded_amount == paid.amount
    refund_row = Refund.objects.get(payment=paid)
    assert refund_row.reason == "Order cancelled by staff."
    order.refresh_from_db()
    assert order.status == Order.Status.CANCELLED
    # orders put the goods back once; the refund does not do it again
    assert stock_of(product) == (10, 0, 10)
    assert "agree" in check_stock_output()


def test_partially_refunded_order_cancelled_from_processing_refunds_the_rest(
    paid, order, staff_client
):
    transition(order, "processing")
    refund(staff_client, paid, amount="5.00", reason="Discount")
    transition(order, "cancelled")
    paid.refresh_from_db()
    assert paid.status == "refunded"
    assert list(Refund.objects.values_list("amount", flat=True)) == [
        Decimal("5.00"),
        paid.amount - Decimal("5.00"),
    ]


def test_restock_before_shipping_is_refused_cancel_puts_goods_back(paid, product, staff_client):
    response = refund(staff_client, paid, amount="1.00", reason="x", restock=True)
    assert response.status_code == 400
    assert response.data["code"] == "restock_not_possible"
    assert stock_of(product) == (7, 0, 7)
    assert not Refund.objects.exists()


def test_a_refund_the_provider_refuses_is_recorded_as_failed_and_takes_nothing_back(
    delivered, order, product, staff_client, monkeypatch
):
    # The provider is called by a worker after the answer, so a refusal is no error status:
    # the refund reads `failed` and the payment keeps its money on the books.
    monkeypatch.setattr(
        DummyGateway, "refund", lambda self, **kwargs: RefundResult(FAILED, "dummy_re_refused")
    )
    response = refund(staff_client, delivered, amount="5.00", reason="Broken")
    assert response.status_code == 201, response.data
    assert Refund.objects.get(pk=response.data["id"]).status == "failed"
    delivered.refresh_from_db()
    assert delivered.refunded_amount == 0
