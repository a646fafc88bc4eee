"""Payment and refund emails: money written the shop's way, links the way order emails give
them (EMAIL_LINK_ORDER, FRONTEND_URL, a guest's signed link)."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.test import TestCase

from orders import guest as orders_guest
from orders import services as orders_services
from payments import services
from tests.payments.factories import ADDRESS, CARD_DECLINED, CARD_OK

pytestmark = pytest.mark.django_db


def _pay(order, card):
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment, _ = services.payment_start(
            order=order,
            gateway="dummy",
            details={"card_number": card},
            idempotency_key=uuid.uuid4().hex,
        )
    return payment


def _refund(payment, amount):
    with TestCase.captureOnCommitCallbacks(execute=True):
        return services.refund_create(
            payment=payment, amount=Decimal(amount), reason="Damaged in transit."
        )


def _mail(words):
    found = [m for m in mail.outbox if words in m.subject]
    assert len(found) == 1, [m.subject for m in mail.outbox]
    return found[0]


def _links(message):
    return re.findall(r"https?://\S+|shopapp://\S+", message.body)


def test_payment_and_refund_emails_write_money_the_shops_way(order, settings):
    settings.SHOP_LOCALE = "en_IE"
    payment = _pay(order, CARD_OK)
    received = _mail("payment received")
    assert f"your payment of €{order.total} for order" in received.body
    assert "EUR" not in received.body
    _refund(payment, "12.50")
    refund = _mail("refunded on order")
    assert refund.subject.endswith(f": €12.50 refunded on order {order.number}")
    assert "we have refunded €12.50 of your payment" in refund.body


def test_the_shops_locale_decides_how_the_amount_reads(order, settings):
    settings.SHOP_LOCALE = "de_DE"
    _pay(order, CARD_DECLINED)
    failed = _mail("did not go through")
    written = str(order.total).replace(".", ",")
    assert f"your payment of {written}\xa0€ for order" in failed.body


def test_links_follow_email_link_order(order, settings):
    settings.EMAIL_LINK_ORDER = "shopapp://orders/{number}"
    payment = _pay(order, CARD_OK)
    assert _links(_mail("payment received")) == [f"shopapp://orders/{order.number}"]
    _refund(payment, "1.00")
    assert _links(_mail("refunded on order")) == [f"shopapp://orders/{order.number}"]


def test_a_failed_payment_sends_a_spa_to_its_own_order_route(order, settings):
    settings.EMAIL_LINK_ORDER = ""
    settings.FRONTEND_URL = "https://app.example.com"
    _pay(order, CARD_DECLINED)
    # The retry link goes to the client's order page (which offers the payment), not ours.
    assert _links(_mail("did not go through")) == [f"https://app.example.com/orders/{order.number}"]


def test_without_link_settings_the_shop_pages_are_linked(order, settings):
    settings.EMAIL_LINK_ORDER = ""
    settings.FRONTEND_URL = ""
    settings.SITE_URL = "https://shop.example.com"
    _pay(order, CARD_DECLINED)
    retry = f"https://shop.example.com/orders/{order.number}/pay/"
    assert _links(_mail("did not go through")) == [retry]
    _pay(order, CARD_OK)
    assert _links(_mail("payment received")) == [f"https://shop.example.com/orders/{order.number}/"]


def test_a_guest_gets_the_signed_link_to_the_order(product, settings):
    settings.EMAIL_LINK_ORDER = "shopapp://orders/{number}"  # accounts' route; guests have none
    cart = orders_services.cart_get_or_create(user=None)
    orders_services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
    order = orders_services.order_checkout_guest(
        cart_id=cart.pk, email="guest@example.com", shipping_address=ADDRESS
    )
    _pay(order, CARD_DECLINED)

    def opens_the_order(links) -> bool:
        # The signed link carries its signing time: links mailed in different seconds differ.
        [link] = links
        prefix, _, token = link.rstrip("/").rpartition("/")
        expected = orders_guest.guest_order_url(order=order).rstrip("/").rpartition("/")[0]
        return prefix == expected and orders_guest.guest_order_from_token(token=token) == order

    retry = _links(_mail("did not go through"))
    assert "/orders/guest/" in retry[0]
    assert opens_the_order(retry)
    payment = _pay(order, CARD_OK)
    received = _mail("payment received")
    assert received.to == ["guest@example.com"]
    assert opens_the_order(_links(received))
    _refund(payment, "2.00")
    assert opens_the_order(_links(_mail("refunded on order")))
