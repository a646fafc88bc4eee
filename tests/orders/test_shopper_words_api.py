"""What the orders API shows: shopper words for history and payments, payments only to
those who may see them, and the cart's way to free shipping."""

import uuid
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.test import TestCase
from rest_framework.test import APIClient

from accounts import roles
from orders import services
from orders.models import OrderEvent, OrderStatus, ShippingMethod
from tests.factories import UserFactory
from tests.orders.factories import place_order

pytestmark = pytest.mark.django_db

S = OrderStatus
CARD_OK = "4242424242424242"
STAFF_WORDS = ("dummy", "admin", "confirmed by", "Picked by")


def _pay(client, order):
    with TestCase.captureOnCommitCallbacks(execute=True):
        response = client.post(
            f"/api/v1/orders/{order.number}/payments/",
            {"gateway": "dummy", "card_number": CARD_OK},
            format="json",
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
        )
    assert response.status_code == 201, response.content
    assert response.json()["status"] == "succeeded"


@pytest.fixture
def paid_order(user_client, product):
    order = place_order(user_client.user, {product: 2})
    _pay(user_client, order)
    order.refresh_from_db()
    assert order.status == S.PAID
    return order


@pytest.fixture
def staff_in(db):
    """Return an API client for a staff member in the named role's group."""
    call_command("roles_sync", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115

    def make(role):
        from django.contrib.auth.models import Group

        staff = UserFactory(is_staff=True)
        staff.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.force_authenticate(user=type(staff).objects.get(pk=staff.pk))
        return client

    return make


def test_order_history_and_payments_are_in_the_shoppers_words(user_client, paid_order):
    services.order_transition(
        order=paid_order, to_status=S.PROCESSING, note="Picked by Sam. Changed in admin."
    )
    body = user_client.get(f"/api/v1/orders/{paid_order.number}/").json()

    assert [(e["status"], e["note"]) for e in body["events"]] == [
        ("pending_payment", "We received your order and are holding the items for you."),
        ("paid", "Payment received. Thank you!"),
        ("processing", "We are packing your order."),
    ]
    # The staff notes are still kept for the admin, just not served to the shopper.
    notes = OrderEvent.objects.filter(order=paid_order).values_list("note", flat=True)
    staff_notes = " ".join(notes)
    assert "dummy" in staff_notes and "Picked by Sam." in staff_notes
    [payment] = body["payments"]
    assert payment["method"] == "Card" and "gateway" not in payment
    assert (payment["amount"], payment["currency"]) == (str(paid_order.total), "EUR")
    served = str(body["events"]) + str(body["payments"])
    assert not any(word in served for word in STAFF_WORDS), served


def test_a_staff_refund_reason_is_not_shown_to_the_shopper(user_client, paid_order, settings):
    from payments import services as payment_services

    payment = paid_order.payments.get()
    with TestCase.captureOnCommitCallbacks(execute=True):
        payment_services.refund_create(
            payment=payment, amount=payment.amount, reason="Fraud suspected by Kim."
        )
    body = user_client.get(f"/api/v1/orders/{paid_order.number}/").json()
    assert body["status"] == "refunded"
    assert body["events"][-1]["note"] == "Your payment was refunded."
    assert "Kim" not in str(body)


def test_a_cancellation_says_what_happened_to_the_money(user_client, product):
    order = place_order(user_client.user, {product: 1})
    body = user_client.post(f"/api/v1/orders/{order.number}/cancel/").json()
    assert body["events"][-1]["note"] == "The order was cancelled. Nothing was charged."


def test_the_served_schema_documents_the_shopper_fields(api_client):
    schema = api_client.get("/api/schema/", {"format": "json"}).json()
    components = schema["components"]["schemas"]
    payment = components["OrderPayment"]["properties"]
    assert "method" in payment and "gateway" not in payment
    assert "shopper" in components["OrderEvent"]["properties"]["note"]["description"]
    cart = components["Cart"]["properties"]["free_shipping_remaining"]
    assert cart["type"] == "string" and cart["format"] == "decimal" and cart["nullable"] is True


# ------------------------------------------------------------------------------
# Payments in the order detail: the owner, and staff with payments.view_payment
# ------------------------------------------------------------------------------
def test_warehouse_staff_see_the_order_but_not_its_payments(staff_in, paid_order):
    warehouse = staff_in(roles.WAREHOUSE)  # orders.view_order, no payments.view_payment
    response = warehouse.get(f"/api/v1/orders/{paid_order.number}/")
    assert response.status_code == 200
    assert response.json()["status"] == "paid" and response.json()["payments"] == []
    # The answer to their own transition leaves the payments out too.
    moved = warehouse.post(
        f"/api/v1/orders/{paid_order.number}/transition/", {"status": "processing"}
    )
    assert moved.status_code == 200, moved.content
    assert moved.json()["status"] == "processing" and moved.json()["payments"] == []


def test_finance_staff_and_the_owner_see_the_payments(staff_in, user_client, paid_order):
    finance = staff_in(roles.FINANCE)  # payments.view_payment
    [seen] = finance.get(f"/api/v1/orders/{paid_order.number}/").json()["payments"]
    assert (seen["status"], seen["amount"]) == ("succeeded", str(paid_order.total))
    [own] = user_client.get(f"/api/v1/orders/{paid_order.number}/").json()["payments"]
    assert own["id"] == seen["id"]


# ------------------------------------------------------------------------------
# The cart: how much more buys free shipping
# ------------------------------------------------------------------------------
def _add(client, product, quantity):
    response = client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": quantity})
    assert response.status_code == 201, response.content


def test_cart_says_how_much_more_buys_free_shipping(user_client, product):
    ShippingMethod.objects.create(
        name="Standard delivery", price=Decimal("4.90"), free_over=Decimal("50.00"), position=0
    )
    assert user_client.get("/api/v1/cart/").json()["free_shipping_remaining"] == "50.00"
    _add(user_client, product, 2)  # 25.00
    cart = user_client.get("/api/v1/cart/").json()
    assert (cart["subtotal"], cart["free_shipping_remaining"]) == ("25.00", "25.00")
    _add(user_client, product, 2)  # 50.00: ships free
    assert user_client.get("/api/v1/cart/").json()["free_shipping_remaining"] == "0.00"


def test_cart_free_shipping_follows_the_flat_rate_without_methods(user_client, product, settings):
    settings.SHIPPING_FREE_OVER = "30.00"
    _add(user_client, product, 1)  # 12.50
    assert user_client.get("/api/v1/cart/").json()["free_shipping_remaining"] == "17.50"
    settings.SHIPPING_FREE_OVER = ""  # shipping is never free
    assert user_client.get("/api/v1/cart/").json()["free_shipping_remaining"] is None
