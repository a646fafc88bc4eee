"""Refunds from the order page: a form, a confirmation showing what will happen, then the
refund through payments' service; guarded by payments.refund_payment."""

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


def test_partial_refund_is_confirmed_then_made_with_restock(cashier, order, delivered, product):
    client = client_for(cashier)
    url = f"/admin/orders/order/{order.pk}/refund/"
    form = client.get(url)
    assert form.status_code == 200
    body = {
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


def test_refund_above_what_is_left_is_refused_on_the_form(cashier, order, delivered):
    response = client_for(cashier).post(
        f"/admin/orders/order/{order.pk}/refund/",
        {"payment": delivered.pk, "amount": "99.00", "reason": "Too much", "confirm": "yes"},
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
