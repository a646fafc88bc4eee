"""POST/GET /api/v1/orders/{number}/payments/: paying an order through the dummy gateway."""

import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from orders import services as orders_services
from orders.models import Order
from payments.models import Payment, WebhookEvent
from payments.tasks import dummy_provider_settle
from tests.factories import UserFactory
from tests.helpers import field_errors
from tests.payments.factories import (
    CARD_DECLINED,
    CARD_OK,
    CARD_PENDING,
    ledger_clean,
    place_order,
    stock_of,
    stocked_product,
)

pytestmark = pytest.mark.django_db


def _reference(response) -> str:
    return Payment.objects.get(pk=response.data["id"]).gateway_reference


def test_good_card_pays_the_order_and_commits_its_stock(order, product, pay):
    response = pay(order, CARD_OK)
    assert response.status_code == 201, response.data
    assert response.data["status"] == "succeeded"
    assert response.data["amount"] == f"{order.total:.2f}"
    assert response.data["gateway"] == "dummy"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert order.paid_at is not None
    assert stock_of(product) == (7, 0, 7)
    assert ledger_clean()


def test_amount_is_the_order_total_whatever_the_client_sends(order, pay):
    response = pay(order, CARD_OK, amount="0.01")
    assert response.status_code == 201
    assert Decimal(response.data["amount"]) == order.total


def test_declined_card_fails_and_leaves_the_order_payable(order, product, pay):
    response = pay(order, CARD_DECLINED)
    assert response.status_code == 201
    assert response.data["status"] == "failed"
    assert response.data["failure_code"] == "card_declined"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert stock_of(product) == (10, 3, 7)

    again = pay(order, CARD_OK)
    assert again.data["status"] == "succeeded"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_pending_card_settles_through_the_signed_webhook(
    order, product, pay, django_capture_on_commit_callbacks
):
    response = pay(order, CARD_PENDING, run_on_commit=False)
    assert response.data["status"] == "pending"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert stock_of(product) == (10, 3, 7)

    # The dummy gateway's task signs the webhook and sends it through the inbox.
    with django_capture_on_commit_callbacks(execute=True):
        assert dummy_provider_settle(_reference(response)) is True
    payment = Payment.objects.get(pk=response.data["id"])
    assert payment.status == "succeeded"
    event = WebhookEvent.objects.get(type="payment.succeeded")
    assert event.signature_valid and event.processed_at is not None
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)

    # Running the task again sends the same event id: nothing happens twice.
    with django_capture_on_commit_callbacks(execute=True):
        dummy_provider_settle(_reference(response))
    assert WebhookEvent.objects.filter(signature_valid=True).count() == 1
    assert order.events.filter(to_status="paid").count() == 1


def test_pending_card_is_settled_after_commit_by_the_queued_task(order, pay):
    response = pay(order, CARD_PENDING, run_on_commit=True)
    assert response.data["status"] == "pending"  # the answer is given before it settles
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


def test_same_idempotency_key_answers_the_same_payment(order, pay):
    key = uuid.uuid4().hex
    first = pay(order, CARD_DECLINED, key=key)
    second = pay(order, CARD_DECLINED, key=key)
    assert first.status_code == 201
    assert second.status_code == 200
    assert second.data["id"] == first.data["id"]
    assert Payment.objects.filter(order=order).count() == 1


def test_same_key_with_another_card_is_refused(order, pay):
    key = uuid.uuid4().hex
    pay(order, CARD_DECLINED, key=key)
    response = pay(order, CARD_OK, key=key)
    assert response.status_code == 422
    assert response.data["code"] == "idempotency_key_reused"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


def test_idempotency_key_is_required(order, user_client):
    response = user_client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": CARD_OK},
        format="json",
    )
    assert response.status_code == 400
    assert "Idempotency-Key" in field_errors(response)
    assert not Payment.objects.exists()


def test_unknown_card_or_gateway_is_a_field_error(order, pay):
    bad_card = pay(order, "1234123412341234")
    assert bad_card.status_code == 400
    assert "card_number" in field_errors(bad_card)
    bad_gateway = pay(order, CARD_OK, gateway="stripe")
    assert bad_gateway.status_code == 400
    assert "gateway" in field_errors(bad_gateway)
    assert not Payment.objects.exists()


def test_paying_someone_elses_order_is_404(order, pay):
    stranger = APIClient()
    stranger.force_authenticate(user=UserFactory())
    response = pay(order, CARD_OK, client=stranger)
    assert response.status_code == 404
    assert not Payment.objects.exists()


def test_anonymous_cannot_pay(order):
    response = APIClient().post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": CARD_OK},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k",
    )
    assert response.status_code == 401


@pytest.mark.parametrize("status", ["paid", "cancelled"])
def test_paid_or_cancelled_order_is_409(order, pay, status):
    orders_services.order_transition(order=order, to_status=status)
    response = pay(order, CARD_OK)
    assert response.status_code == 409
    assert response.data["code"] == "invalid_transition"
    assert not Payment.objects.exists()


def test_order_past_its_reservation_time_is_409(order, pay):
    Order.objects.filter(pk=order.pk).update(
        reservation_expires_at=timezone.now() - timedelta(seconds=1)
    )
    response = pay(order, CARD_OK)
    assert response.status_code == 409
    assert response.data["code"] == "invalid_transition"


def test_owner_and_staff_list_the_orders_payments(order, pay, user_client, staff_client):
    pay(order, CARD_DECLINED)
    pay(order, CARD_OK)
    mine = user_client.get(f"/api/v1/orders/{order.number}/payments/")
    assert mine.status_code == 200
    assert [p["status"] for p in mine.data["results"]] == ["failed", "succeeded"]
    assert staff_client.get(f"/api/v1/orders/{order.number}/payments/").data["count"] == 2
    stranger = APIClient()
    stranger.force_authenticate(user=UserFactory())
    assert stranger.get(f"/api/v1/orders/{order.number}/payments/").status_code == 404


@pytest.mark.parametrize("count", [1, 8])
def test_payment_list_query_count_does_not_grow(
    user, user_client, count, django_assert_num_queries
):
    product = stocked_product(on_hand=5)
    order = place_order(user, {product: 1})
    for _ in range(count):
        Payment.objects.create(
            order=order,
            amount=order.total,
            currency=order.currency,
            gateway="dummy",
            idempotency_key=uuid.uuid4().hex,
            request_hash="x",
            status="failed",
        )
    # the order (one read, nothing prefetched), then count and page
    with django_assert_num_queries(3):
        response = user_client.get(f"/api/v1/orders/{order.number}/payments/")
    assert response.data["count"] == count


def test_order_detail_lists_its_payments(order, pay, user_client):
    pay(order, CARD_OK)
    detail = user_client.get(f"/api/v1/orders/{order.number}/")
    assert [p["status"] for p in detail.data["payments"]] == ["succeeded"]


def test_a_payment_for_an_order_whose_stock_was_released_is_refunded(order, pay, product):
    """Stock that went back on the shelf is never sold twice: the money goes back instead."""
    from inventory import services as inventory_services
    from inventory.models import StockItem

    inventory_services.reservations_release(reference=order.number)
    available_before = StockItem.objects.get(product=product).available
    response = pay(order, CARD_OK)
    assert response.status_code == 201
    payment = Payment.objects.get(pk=response.data["id"])
    assert payment.status == "refunded"
    order.refresh_from_db()
    assert order.status == "pending_payment"
    assert StockItem.objects.get(product=product).available == available_before
