"""The dummy gateway's hosted checkout: its own page plays the provider."""

import re

import pytest
from django.test import Client, TestCase

from orders.models import Order
from payments.models import Payment
from tests.payments.factories import CARD_DECLINED, CARD_OK, stock_of

pytestmark = pytest.mark.django_db


@pytest.fixture
def browser(user):
    client = Client()
    client.force_login(user)
    return client


def _go_to_provider(browser, order):
    page = browser.get(f"/orders/{order.number}/pay/")
    html = page.content.decode()
    assert 'data-testid="hosted-form-dummy"' in html
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', html).group(1)
    response = browser.post(
        f"/orders/{order.number}/pay/", {"gateway": "dummy", "idempotency_key": key}
    )
    assert response.status_code == 302
    assert "/payments/dummy/checkout/dummy_pay_" in response["Location"]
    return response["Location"]


def test_paying_on_the_providers_page_pays_the_order(browser, order, product):
    provider_url = _go_to_provider(browser, order)
    payment = Payment.objects.get(order=order)
    assert payment.status == "pending" and payment.redirect_url == provider_url
    page = browser.get(provider_url)
    assert f"{order.total} {order.currency}" in page.content.decode()
    with TestCase.captureOnCommitCallbacks(execute=True):
        back = browser.post(provider_url, {"pay": "1", "card_number": CARD_OK})
    assert back.status_code == 302
    assert back["Location"].endswith(f"/orders/{order.number}/pay/return/")
    result = browser.get(back["Location"])
    assert "Thank you!" in result.content.decode()
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    assert stock_of(product) == (7, 0, 7)


def test_a_declined_card_on_the_providers_page_comes_back_to_try_again(browser, order):
    provider_url = _go_to_provider(browser, order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        back = browser.post(provider_url, {"pay": "1", "card_number": CARD_DECLINED})
    page = browser.get(back["Location"], follow=True)
    assert "Try again" in page.content.decode()
    assert Payment.objects.get(order=order).status == "failed"


def test_cancelling_on_the_providers_page_frees_the_order(browser, order):
    provider_url = _go_to_provider(browser, order)
    with TestCase.captureOnCommitCallbacks(execute=True):
        back = browser.post(provider_url, {"cancel": "1"})
    browser.get(back["Location"], follow=True)
    payment = Payment.objects.get(order=order)
    assert (payment.status, payment.failure_code) == ("failed", "cancelled")
    # A new attempt opens a new checkout.
    assert _go_to_provider(browser, order) != provider_url


def test_an_unknown_card_is_shown_on_the_providers_page(browser, order):
    provider_url = _go_to_provider(browser, order)
    page = browser.post(provider_url, {"pay": "1", "card_number": "1234"})
    assert page.status_code == 200
    assert "Use a test card" in page.content.decode()
    assert Payment.objects.get(order=order).status == "pending"
