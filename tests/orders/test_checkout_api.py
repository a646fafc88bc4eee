"""Checkout: POST /api/v1/orders/ turns the cart into a pending order with stock reserved."""

from decimal import Decimal

import pytest
from django.core import mail

from inventory import selectors as inventory_selectors
from inventory.models import Reservation
from orders.models import IdempotencyRecord, Order
from tests.factories import UserFactory
from tests.helpers import field_errors
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = pytest.mark.django_db

BODY = {"shipping_address": ADDRESS}


def checkout(client, key="key-1", body=BODY):
    headers = {"Idempotency-Key": key} if key is not None else {}
    return client.post("/api/v1/orders/", body, format="json", headers=headers)


def add(client, product, quantity):
    response = client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": quantity})
    assert response.status_code == 201, response.json()


def test_checkout_makes_a_pending_order_with_snapshots_and_reserves_stock(
    user_client, no_free_shipping
):
    a = stocked_product(on_hand=5, price="12.50", name="Kenya beans")
    b = stocked_product(on_hand=5, price="3.00")
    add(user_client, a, 2)
    add(user_client, b, 1)

    response = checkout(user_client)

    assert response.status_code == 201
    order = response.json()
    assert order["status"] == "pending_payment"
    assert (order["subtotal"], order["shipping"], order["total"]) == ("28.00", "4.90", "32.90")
    assert order["currency"] == "EUR"
    assert order["shipping_address"]["city"] == "London"
    assert order["reservation_expires_at"] and order["paid_at"] is None
    assert [
        (line["name"], line["quantity"], line["unit_price"], line["line_total"])
        for line in order["lines"]
    ] == [
        ("Kenya beans", 2, "12.50", "25.00"),
        (b.name, 1, "3.00", "3.00"),
    ]
    assert [e["status"] for e in order["events"]] == ["pending_payment"]
    assert inventory_selectors.stock_available(product_ids=[a.pk, b.pk]) == {a.pk: 3, b.pk: 4}
    assert set(Reservation.objects.values_list("reference", flat=True)) == {order["number"]}
    assert user_client.get("/api/v1/cart/").json()["items"] == []


def test_prices_are_snapshotted_when_the_product_changes_later(user_client):
    product = stocked_product(on_hand=5, price="10.00", name="Old name")
    add(user_client, product, 1)
    number = checkout(user_client).json()["number"]
    product.price, product.name = Decimal("99.00"), "New name"
    product.save()
    line = user_client.get(f"/api/v1/orders/{number}/").json()["lines"][0]
    assert (line["name"], line["unit_price"]) == ("Old name", "10.00")


def test_shipping_is_free_from_the_threshold(user_client, settings):
    settings.SHIPPING_FREE_OVER = "50.00"
    product = stocked_product(on_hand=10, price="25.00")
    add(user_client, product, 2)
    order = checkout(user_client).json()
    assert (order["shipping"], order["total"]) == ("0.00", "50.00")


def test_order_numbers_are_unique_and_human_friendly(user_client, product):
    numbers = set()
    for key in ("a", "b", "c"):
        add(user_client, product, 1)
        numbers.add(checkout(user_client, key=key).json()["number"])
    assert len(numbers) == 3
    for number in numbers:
        assert len(number) == 13 and number[6] == "-" and number[:6].isdigit()


def test_same_key_and_body_returns_the_same_order_and_makes_nothing_new(user_client, product):
    add(user_client, product, 2)
    first = checkout(user_client, key="retry-me")
    again = checkout(user_client, key="retry-me")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["number"] == first.json()["number"]
    assert Order.objects.count() == 1
    assert inventory_selectors.stock_available(product_ids=[product.pk])[product.pk] == 8


def test_same_key_with_another_body_is_refused(user_client, product):
    add(user_client, product, 1)
    checkout(user_client, key="k")
    other = {"shipping_address": {**ADDRESS, "city": "Paris", "country": "FR"}}
    response = checkout(user_client, key="k", body=other)
    assert response.status_code == 422
    assert response.json()["code"] == "idempotency_key_reused"
    assert Order.objects.count() == 1


def test_idempotency_keys_belong_to_each_user(user_client, api_client, other_user, product):
    add(user_client, product, 1)
    api_client.force_authenticate(user=other_user)
    add(api_client, product, 1)
    mine, theirs = checkout(user_client, key="same"), checkout(api_client, key="same")
    assert (mine.status_code, theirs.status_code) == (201, 201)
    assert mine.json()["number"] != theirs.json()["number"]


def test_missing_idempotency_key_is_refused_with_the_header_named(user_client, product):
    add(user_client, product, 1)
    for key in (None, "", "x" * 256):
        response = checkout(user_client, key=key)
        assert response.status_code == 400
        assert "Idempotency-Key" in field_errors(response)
    assert Order.objects.count() == 0


def test_empty_cart_is_refused(user_client):
    response = checkout(user_client)
    assert response.status_code == 400
    assert response.json()["code"] == "cart_empty"
    assert not IdempotencyRecord.objects.exists()


def test_unverified_email_is_refused(api_client, product):
    user = UserFactory(email_verified=False)
    api_client.force_authenticate(user=user)
    add(api_client, product, 1)
    response = checkout(api_client)
    assert response.status_code == 403
    assert response.json()["code"] == "email_not_verified"
    assert Order.objects.count() == 0


def test_short_stock_lists_each_short_line_and_writes_nothing(user_client):
    plenty = stocked_product(on_hand=10)
    scarce = stocked_product(on_hand=3)
    gone = stocked_product(on_hand=2)
    add(user_client, plenty, 1)
    add(user_client, scarce, 3)
    add(user_client, gone, 2)
    # Someone else buys the scarce units between add and checkout.
    from inventory import services as inventory_services

    inventory_services.stock_adjust(stock_item=scarce.stock, delta=-2, reason="Breakage")
    inventory_services.stock_adjust(stock_item=gone.stock, delta=-2, reason="Breakage")

    response = checkout(user_client)

    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert sorted(body["lines"], key=lambda line: line["product"]) == [
        {"product": scarce.pk, "requested": 3, "available": 1},
        {"product": gone.pk, "requested": 2, "available": 0},
    ]
    assert Order.objects.count() == 0 and not IdempotencyRecord.objects.exists()
    assert not Reservation.objects.exists()
    assert len(user_client.get("/api/v1/cart/").json()["items"]) == 3  # cart kept

    # The key was not used up: after restocking the same request goes through.
    inventory_services.stock_receive(stock_item=scarce.stock, quantity=5)
    inventory_services.stock_receive(stock_item=gone.stock, quantity=5)
    assert checkout(user_client).status_code == 201


def test_inactive_product_in_cart_blocks_checkout(user_client, product):
    add(user_client, product, 1)
    product.active = False
    product.save()
    response = checkout(user_client)
    assert response.status_code == 409
    assert response.json()["code"] == "product_unavailable"
    assert response.json()["products"] == [product.pk]


@pytest.mark.parametrize(
    "address, field",
    [
        ({**ADDRESS, "full_name": ""}, "full_name"),
        ({k: v for k, v in ADDRESS.items() if k != "line1"}, "line1"),
        ({**ADDRESS, "postal_code": "#!"}, "postal_code"),
        ({**ADDRESS, "country": "Germany"}, "country"),
        ({**ADDRESS, "city": "x" * 101}, "city"),
    ],
)
def test_malformed_address_is_refused_with_the_field_named(user_client, product, address, field):
    add(user_client, product, 1)
    response = checkout(user_client, body={"shipping_address": address})
    assert response.status_code == 400
    assert f"shipping_address.{field}" in field_errors(response)
    assert Order.objects.count() == 0


def test_address_that_is_not_an_object_is_refused(user_client, product):
    add(user_client, product, 1)
    for body in ({}, {"shipping_address": "London"}, {"shipping_address": None}):
        response = checkout(user_client, body=body)
        assert response.status_code == 400
        assert {p.split(".")[0] for p in field_errors(response)} == {"shipping_address"}


def test_confirmation_email_is_sent_once_the_order_is_placed(
    user_client, product, django_capture_on_commit_callbacks
):
    add(user_client, product, 1)
    with django_capture_on_commit_callbacks(execute=True):
        number = checkout(user_client).json()["number"]
    [message] = mail.outbox
    assert message.to == [user_client.user.email]
    assert number in message.subject and number in message.body


def test_mail_server_down_does_not_fail_the_checkout(
    user_client, product, monkeypatch, django_capture_on_commit_callbacks
):
    import smtplib

    def refuse(self, *args, **kwargs):
        raise smtplib.SMTPServerDisconnected("mail server down")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    add(user_client, product, 1)
    with django_capture_on_commit_callbacks(execute=True):
        response = checkout(user_client)
    assert response.status_code == 201
    order = Order.objects.get()
    assert order.events.get().notified_at is None  # a later run can still send it


def test_checkout_is_rate_limited_but_reading_orders_is_not(user_client, monkeypatch):
    from rest_framework.throttling import ScopedRateThrottle

    monkeypatch.setattr(ScopedRateThrottle, "THROTTLE_RATES", {"checkout": "3/min"})
    for n in range(3):
        assert checkout(user_client, key=f"k{n}").status_code == 400  # empty cart, but counted
    response = checkout(user_client, key="k4")
    assert response.status_code == 429
    assert response.json()["code"] == "throttled"
    for _ in range(5):
        assert user_client.get("/api/v1/orders/").status_code == 200


def test_reservation_lasts_the_configured_minutes(user_client, product, settings):
    from datetime import datetime, timedelta

    from django.utils import timezone

    settings.RESERVATION_MINUTES = 20
    add(user_client, product, 1)
    before = timezone.now()
    order = checkout(user_client).json()
    expires = datetime.fromisoformat(order["reservation_expires_at"].replace("Z", "+00:00"))
    assert before + timedelta(minutes=20) <= expires <= timezone.now() + timedelta(minutes=20)
    reservation = Reservation.objects.get()
    assert reservation.expires_at == expires


@pytest.mark.parametrize(
    ("price", "quantity", "subtotal", "total"),
    [("8.20", 3, "24.60", "29.50"), ("0.10", 3, "0.30", "5.20"), ("19.99", 2, "39.98", "44.88")],
)
def test_totals_that_floats_cannot_hold_exactly_still_check_out(
    user_client, no_free_shipping, price, quantity, subtotal, total
):
    """The database checks total = subtotal + shipping exactly, on SQLite (floats) too."""
    add(user_client, stocked_product(on_hand=10, price=price), quantity)
    response = checkout(user_client)
    assert response.status_code == 201, response.content
    order = response.json()
    assert (order["subtotal"], order["shipping"], order["total"]) == (subtotal, "4.90", total)
