"""Refunds from the order page: a form, a confirmation showing what will happen, then the
refund through payments' service; guarded by payments.refund_payment."""

import re
from decimal import Decimal

import pytest
from django.test import Client

from orders import services as orders_services
from payments.models import Payment, Refund
from tests.payments.factories import CARD_OK, stock_of
from tests.reports.factories import staff_with

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_shipping(settings):
    settings.SHIPPING_FLAT_RATE = "0"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def one_time_key(response) -> str:
    """The refund form's hidden one-time key, as the browser would post it back."""
    found = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', response.content.decode())
    assert found, "the refund form carries no one-time key"
    return found.group(1)


@pytest.fixture
def cashier(db):
    return staff_with(
        "orders.view_order",
        "payments.view_payment",
        "payments.refund_payment",
        models={"payments.refund_payment": Payment},
    )


@pytest.fixture
def delivered(order, pay):
    response = pay(order, CARD_OK)
    assert response.data["status"] == "succeeded"
    for status in ("processing", "shipped", "delivered"):
        orders_services.order_transition(order=order, to_status=status)
    return Payment.objects.get(pk=response.data["id"])


def test_order_page_shows_payments_and_a_refund_button(cashier, order, delivered):
    html = client_for(cashier).get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "Payments and refunds" in html
    assert "37.50" in html
    assert f"/admin/orders/order/{order.pk}/refund/" in html


def test_partial_refund_is_confirmed_then_made_with_restock(
    cashier, order, delivered, product, django_capture_on_commit_callbacks
):
    client = client_for(cashier)
    url = f"/admin/orders/order/{order.pk}/refund/"
    form = client.get(url)
    assert form.status_code == 200
    body = {
        "idempotency_key": one_time_key(form),
        "payment": delivered.pk,
        "amount": "12.50",
        "reason": "One arrived broken.",
        "restock": "on",
        f"line_{product.pk}": "1",
    }

    confirm = client.post(url, body)
    html = confirm.content.decode()
    assert "Please confirm" in html
    assert "Give back <strong>12.50 EUR</strong>" in html
    assert "<strong>25.00 EUR</strong> will be left" in html
    assert "becomes <strong>partially refunded</strong>" in html
    assert f"1 &times; {product.name} ({product.sku})" in html
    assert not Refund.objects.exists()  # nothing happens before the confirmation

    with django_capture_on_commit_callbacks(execute=True):  # the provider's call, then phase 3
        done = client.post(url, {**body, "restock": "True", "confirm": "yes"}, follow=True)
    assert "Refund of 12.50 EUR on order" in done.content.decode()
    refund = Refund.objects.get()
    assert (refund.amount, refund.restocked_lines, refund.actor_id) == (
        Decimal("12.50"),
        {str(product.pk): 1},
        cashier.pk,
    )
    order.refresh_from_db()
    assert order.status == "partially_refunded"
    assert stock_of(product)[0] == 10 - 3 + 1


def test_a_double_posted_confirmation_makes_one_refund(cashier, order, delivered, product):
    client = client_for(cashier)
    url = f"/admin/orders/order/{order.pk}/refund/"
    body = {
        "idempotency_key": one_time_key(client.get(url)),
        "payment": delivered.pk,
        "amount": "5.00",
        "reason": "Late delivery.",
    }
    confirm = client.post(url, body)
    key = one_time_key(confirm)  # the confirmation page carries the same key
    assert key == body["idempotency_key"]

    first = client.post(url, {**body, "confirm": "yes"}, follow=True)
    second = client.post(url, {**body, "confirm": "yes"}, follow=True)

    assert "Refund of 5.00 EUR on order" in first.content.decode()
    assert "already requested" in second.content.decode()
    refund = Refund.objects.get()
    assert refund.amount == Decimal("5.00")
    delivered.refresh_from_db()
    assert delivered.refunded_amount == Decimal("5.00")
    # A new form gets a new key: a second refund on purpose is still possible.
    again = {**body, "idempotency_key": one_time_key(client.get(url)), "confirm": "yes"}
    client.post(url, again)
    assert Refund.objects.count() == 2


def test_refund_above_what_is_left_is_refused_on_the_form(cashier, order, delivered):
    client = client_for(cashier)
    url = f"/admin/orders/order/{order.pk}/refund/"
    response = client.post(
        url,
        {
            "idempotency_key": one_time_key(client.get(url)),
            "payment": delivered.pk,
            "amount": "99.00",
            "reason": "Too much",
            "confirm": "yes",
        },
    )
    assert "At most 37.50 EUR is left to refund." in response.content.decode()
    assert not Refund.objects.exists()


def test_staff_without_refund_right_see_no_button_and_are_refused(order, delivered):
    viewer = staff_with("orders.view_order", "payments.view_payment")
    client = client_for(viewer)
    html = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "/refund/" not in html
    url = f"/admin/orders/order/{order.pk}/refund/"
    assert client.get(url).status_code == 403
    body = {"payment": delivered.pk, "amount": "1.00", "reason": "x", "confirm": "yes"}
    assert client.post(url, body).status_code == 403
    assert not Refund.objects.exists()
