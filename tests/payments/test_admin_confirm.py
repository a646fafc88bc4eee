"""The payment list's bulk actions ask first: a page lists what will change (amounts,
orders); only confirming it applies; each needs its permission."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from payments.models import Payment, Refund
from tests.factories import UserFactory
from tests.payments.factories import CARD_DECLINED, CARD_OK, place_order

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/payments/payment/"


def _staff(*codenames):
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(
        *Permission.objects.filter(content_type__app_label="payments", codename__in=codenames)
    )
    browser = Client()
    browser.force_login(staff)
    return browser


def _post(browser, action, payments, **extra):
    return browser.post(
        CHANGELIST,
        {"action": action, "_selected_action": [p.pk for p in payments], **extra},
        follow=True,
    )


@pytest.fixture
def in_review(order, pay, settings):
    settings.FRAUD_AMOUNT_THRESHOLD = "1.00"
    pay(order, CARD_OK)
    payment = Payment.objects.get(order=order)
    assert payment.status == "review"
    return payment


@pytest.fixture
def paid(order, pay):
    pay(order, CARD_OK)
    payment = Payment.objects.get(order=order)
    assert payment.status == "succeeded"
    return payment


def test_refund_what_is_left_shows_the_amounts_first_and_applies_on_confirm(paid, order):
    browser = _staff("view_payment", "refund_payment")
    page = _post(browser, "refund_in_full", [paid])
    html = page.content.decode()
    assert page.templates[0].name == "admin/payments/payment/bulk_confirm.html"
    assert "What is left of these payments will be refunded" in html
    assert order.number in html and f"€{paid.amount}" in html
    assert f"€{paid.amount} goes back of €{paid.amount} paid" in html
    assert 'value="Yes, refund 1 payment"' in html and "No, go back" in html
    paid.refresh_from_db()
    assert (paid.refunded_amount, Refund.objects.count()) == (0, 0)  # nothing changed yet

    done = _post(browser, "refund_in_full", [paid], apply="yes")
    assert "1 payment(s) refunded." in done.content.decode()
    paid.refresh_from_db()
    assert paid.refunded_amount == paid.amount
    assert Refund.objects.get().amount == paid.amount


def test_refund_what_is_left_lists_payments_with_nothing_left_apart(paid, user, product, pay):
    other = place_order(user, {product: 1})
    pay(other, CARD_DECLINED)
    declined = Payment.objects.get(order=other)
    browser = _staff("view_payment", "refund_payment")
    html = _post(browser, "refund_in_full", [paid, declined]).content.decode()
    assert "1 of 2 selected payment(s)" in html
    assert "These stay as they are (nothing left to refund)" in html
    assert f"#{declined.pk}, order {other.number} (Failed)" in html
    assert f"#{paid.pk}</td><td>{paid.order.number}</td>" in html


def test_approving_asks_first_then_the_order_is_paid(in_review, order):
    browser = _staff("view_payment", "review_payment")
    page = _post(browser, "approve_review", [in_review])
    html = page.content.decode()
    assert "These payments will be approved" in html
    assert order.number in html and "The order is paid" in html
    in_review.refresh_from_db()
    order.refresh_from_db()
    assert (in_review.status, order.status) == ("review", "pending_payment")

    done = _post(browser, "approve_review", [in_review], apply="yes")
    assert "1 payment(s) approved." in done.content.decode()
    order.refresh_from_db()
    assert order.status == "paid"


def test_rejecting_asks_first_then_the_money_goes_back(in_review):
    browser = _staff("view_payment", "review_payment")
    html = _post(browser, "reject_review", [in_review]).content.decode()
    assert "These payments will be rejected" in html
    assert f"€{in_review.amount} goes back to the shopper" in html
    in_review.refresh_from_db()
    assert in_review.status == "review"

    _post(browser, "reject_review", [in_review], apply="yes")
    in_review.refresh_from_db()
    assert in_review.status == "refunded"


def test_cancel_on_the_confirmation_page_leads_back_unchanged(in_review):
    browser = _staff("view_payment", "review_payment")
    html = _post(browser, "reject_review", [in_review]).content.decode()
    assert f'href="{CHANGELIST}" class="button cancel-link"' in html
    assert browser.get(CHANGELIST).status_code == 200
    in_review.refresh_from_db()
    assert in_review.status == "review"


@pytest.mark.parametrize(
    ("action", "codenames", "status"),
    [
        ("refund_in_full", ("view_payment", "review_payment"), "succeeded"),
        ("approve_review", ("view_payment", "refund_payment"), "review"),
        ("reject_review", ("view_payment", "refund_payment"), "review"),
    ],
)
def test_without_the_permission_neither_page_nor_change(action, codenames, status, paid):
    Payment.objects.filter(pk=paid.pk).update(status=status)  # something the action would change
    browser = _staff(*codenames)
    for extra in ({}, {"apply": "yes"}):
        response = _post(browser, action, [paid], **extra)
        html = response.content.decode()
        assert "bulk-confirm" not in html and "No action selected." in html
    paid.refresh_from_db()
    assert (paid.status, paid.refunded_amount, Refund.objects.count()) == (status, 0, 0)
