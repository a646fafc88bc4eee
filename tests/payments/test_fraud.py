"""Fraud rules (pure functions) and payments held for review until staff decide."""

from datetime import timedelta
from decimal import Decimal

import pytest

from orders.models import Order
from payments import services
from payments.fraud import FraudRules, FraudSignals, fraud_assess
from payments.models import FraudCheck, Payment, Refund
from tests.payments.factories import (
    CARD_DECLINED,
    CARD_OK,
    CARD_PENDING,
    event_body,
    place_order,
    stock_of,
    stocked_product,
)

RULES = FraudRules(
    amount_threshold=Decimal("1000"),
    max_orders_per_hour=3,
    max_declines_per_hour=2,
    new_account_age=timedelta(hours=24),
    new_account_amount=Decimal("300"),
    review_score=50,
)
OLD = timedelta(days=400)


def assess(**signals):
    return fraud_assess(signals=FraudSignals(**{"account_age": OLD, **signals}), rules=RULES)


def test_an_ordinary_payment_passes():
    result = assess(amount=Decimal("40"), orders_by_user_last_hour=1)
    assert (result.score, result.hits, result.review) == (0, (), False)


def test_a_large_amount_goes_to_review():
    result = assess(amount=Decimal("1000.01"))
    assert [hit.rule for hit in result.hits] == ["amount_over_threshold"]
    assert result.review


def test_the_threshold_itself_is_not_over_it():
    assert not assess(amount=Decimal("1000.00")).review


@pytest.mark.parametrize(
    "signals",
    [{"orders_by_user_last_hour": 4}, {"orders_by_ip_last_hour": 4}],
)
def test_too_many_orders_from_one_user_or_ip(signals):
    result = assess(amount=Decimal("10"), **signals)
    assert [hit.rule for hit in result.hits] == ["order_velocity"]
    assert result.review
    assert not assess(amount=Decimal("10"), orders_by_user_last_hour=3).review


@pytest.mark.parametrize(
    "signals",
    [{"declines_by_user_last_hour": 3}, {"declines_by_ip_last_hour": 3}],
)
def test_too_many_declines_from_one_user_or_ip(signals):
    result = assess(amount=Decimal("10"), **signals)
    assert [hit.rule for hit in result.hits] == ["decline_velocity"]


def test_a_brand_new_account_paying_a_lot():
    young = assess(amount=Decimal("301"), account_age=timedelta(hours=2))
    assert [hit.rule for hit in young.hits] == ["new_account_large_amount"]
    assert not assess(amount=Decimal("301"), account_age=timedelta(hours=25)).review
    assert not assess(amount=Decimal("299"), account_age=timedelta(hours=2)).review


def test_scores_add_up_and_are_capped():
    result = assess(
        amount=Decimal("5000"),
        account_age=timedelta(minutes=5),
        orders_by_ip_last_hour=9,
        declines_by_user_last_hour=9,
    )
    assert len(result.hits) == 4
    assert result.score == 100


# ------------------------------------------------------------------------------
# Review through the API and the admin
# ------------------------------------------------------------------------------
pytestmark_db = pytest.mark.django_db


@pytest.fixture
def strict(settings):
    settings.FRAUD_AMOUNT_THRESHOLD = "20.00"


@pytestmark_db
def test_flagged_payment_is_held_and_the_order_stays_unpaid(strict, order, product, pay):
    response = pay(order, CARD_OK)
    assert response.status_code == 201
    assert response.data["status"] == "review"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert stock_of(product) == (10, 3, 7)
    check = FraudCheck.objects.get()
    assert check.decision == "review"
    assert check.rules_hit[0]["rule"] == "amount_over_threshold"
    assert Payment.objects.get().risk_score == check.score == 60


@pytestmark_db
def test_staff_approval_pays_the_order(strict, order, product, pay, staff_user):
    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    services.payment_review_approve(payment=payment, actor=staff_user)
    payment.refresh_from_db()
    assert payment.status == "succeeded"
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)
    assert FraudCheck.objects.get().reviewed_by == staff_user


@pytestmark_db
def test_staff_rejection_gives_the_money_back(strict, order, pay, staff_user):
    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    services.payment_review_reject(payment=payment, actor=staff_user)
    payment.refresh_from_db()
    assert payment.status == "refunded"
    assert Refund.objects.get().amount == payment.amount
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    assert FraudCheck.objects.get().decision == "rejected"


@pytestmark_db
def test_rejected_pending_payment_that_settles_later_is_refunded(
    strict, order, pay, staff_user, deliver
):
    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])
    assert payment.status == "review"
    services.payment_review_reject(payment=payment, actor=staff_user)
    deliver(event_body("payment.succeeded", payment))
    payment.refresh_from_db()
    assert payment.status == "refunded"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT


@pytestmark_db
def test_approved_pending_payment_pays_when_its_webhook_arrives(
    strict, order, pay, staff_user, deliver
):
    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])
    services.payment_review_approve(payment=payment, actor=staff_user)
    payment.refresh_from_db()
    assert payment.status == "pending"
    deliver(event_body("payment.succeeded", payment))
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytestmark_db
def test_settled_while_in_review_waits_for_staff(strict, order, pay, staff_user, deliver):
    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])
    deliver(event_body("payment.succeeded", payment))
    payment.refresh_from_db()
    assert payment.status == "review"
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT
    services.payment_review_approve(payment=payment, actor=staff_user)
    order.refresh_from_db()
    assert order.status == Order.Status.PAID


@pytestmark_db
def test_repeated_declines_send_the_next_payment_to_review(settings, user, pay):
    settings.FRAUD_MAX_DECLINES_PER_HOUR = 2
    product = stocked_product(on_hand=5)
    order = place_order(user, {product: 1})
    statuses = [pay(order, CARD_DECLINED).data["status"] for _ in range(3)]
    assert statuses == ["failed", "failed", "failed"]
    assert pay(order, CARD_OK).data["status"] == "review"


@pytestmark_db
def test_many_orders_in_an_hour_send_the_payment_to_review(settings, user, pay):
    settings.FRAUD_MAX_ORDERS_PER_HOUR = 2
    product = stocked_product(on_hand=10)
    first = place_order(user, {product: 1})
    place_order(user, {product: 1})
    assert pay(first, CARD_OK).data["status"] == "succeeded"  # two orders: at the limit
    third = place_order(user, {product: 1})
    assert pay(third, CARD_OK).data["status"] == "review"


@pytestmark_db
def test_new_account_paying_a_lot_goes_to_review(settings, user, pay):
    settings.FRAUD_NEW_ACCOUNT_HOURS = 24
    settings.FRAUD_NEW_ACCOUNT_AMOUNT = "30.00"
    product = stocked_product(on_hand=10, price="40.00")
    order = place_order(user, {product: 1})
    assert pay(order, CARD_OK).data["status"] == "review"


@pytestmark_db
def test_review_decisions_only_apply_to_payments_in_review(order, pay, staff_user):
    from payments.errors import PaymentNotInReview

    payment = Payment.objects.get(pk=pay(order, CARD_OK).data["id"])
    with pytest.raises(PaymentNotInReview):
        services.payment_review_approve(payment=payment, actor=staff_user)
