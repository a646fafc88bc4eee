"""The shopper's side of checkout: countries, the address book, delivery choice, guests."""

import re
import uuid
from decimal import Decimal

import pytest
from django.core import mail
from django.db import IntegrityError
from django.test import Client
from django.utils import timezone

from orders import address_book, guest, services
from orders.models import Address, Order, OrderStatus, ShippingMethod
from tests.factories import UserFactory
from tests.helpers import error_code, field_errors
from tests.orders.factories import ADDRESS, place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def shopper_client(client, user):
    client.force_login(user)
    client.user = user
    return client


@pytest.fixture
def methods(db):
    standard = ShippingMethod.objects.create(
        name="Standard delivery",
        price=Decimal("4.90"),
        free_over=Decimal("50.00"),
        delivery_estimate="3-5 working days",
        position=0,
    )
    express = ShippingMethod.objects.create(
        name="Express delivery",
        price=Decimal("12.90"),
        delivery_estimate="1-2 working days",
        countries=["DE", "AT"],
        position=1,
    )
    return standard, express


def _key(page) -> str:
    return re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode()).group(1)


# ------------------------------------------------------------------------------
# Countries
# ------------------------------------------------------------------------------
def test_checkout_country_is_a_list_of_full_names_and_a_name_typed_in_is_refused(
    shopper_client, product
):
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = shopper_client.get("/checkout/")
    content = page.content.decode()
    assert '<option value="DE">Germany</option>' in content
    assert '<option value="GE">Georgia</option>' in content
    data = {**ADDRESS, "country": "Germany", "idempotency_key": _key(page)}
    response = shopper_client.post("/checkout/", data)
    assert response.status_code == 200
    assert "Choose a country from the list." in response.content.decode()
    assert Order.objects.count() == 0

    response = shopper_client.post("/checkout/", {**data, "country": "DE"})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.shipping_address["country"] == "DE"
    assert "Germany" in shopper_client.get(f"/orders/{order.number}/").content.decode()


@pytest.mark.parametrize("country", ["Germany", "DEU", "XX", "G", 49])
def test_api_refuses_anything_but_an_iso_country_code(user_client, product, country):
    services.cart_item_add(
        cart=services.cart_get_or_create(user=user_client.user), product_id=product.pk, quantity=1
    )
    response = user_client.post(
        "/api/v1/orders/",
        {"shipping_address": {**ADDRESS, "country": country}},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 400
    assert "shipping_address.country" in field_errors(response)


def test_api_takes_a_lower_case_code_and_stores_it_upper_case(user_client, product):
    services.cart_item_add(
        cart=services.cart_get_or_create(user=user_client.user), product_id=product.pk, quantity=1
    )
    response = user_client.post(
        "/api/v1/orders/",
        {"shipping_address": {**ADDRESS, "country": "de"}},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )
    assert response.status_code == 201, response.content
    assert response.json()["shipping_address"]["country"] == "DE"


# ------------------------------------------------------------------------------
# Shipping methods
# ------------------------------------------------------------------------------
def test_cart_says_how_much_more_buys_free_shipping(client, product, methods):
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})  # 25.00
    content = client.get("/cart/").content.decode()
    assert "Add €25.00 more for free shipping." in content
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})  # 50.00
    assert "Your order ships free." in client.get("/cart/").content.decode()


def test_checkout_page_offers_the_methods_and_snapshots_the_chosen_one(
    shopper_client, product, methods
):
    _, express = methods
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = shopper_client.get("/checkout/")
    content = page.content.decode()
    assert "Standard delivery" in content and "Express delivery" in content
    assert "3-5 working days" in content
    data = {**ADDRESS, "country": "DE", "idempotency_key": _key(page)}
    response = shopper_client.post("/checkout/", {**data, "shipping_method": express.pk})
    assert response.status_code == 302
    order = Order.objects.get()
    assert order.shipping_method_name == "Express delivery"
    assert order.shipping == Decimal("12.90")
    assert order.total == Decimal("25.40")

    # Staff change the method later: the order keeps what the shopper chose.
    ShippingMethod.objects.filter(pk=express.pk).update(name="Courier", price=Decimal("20"))
    content = shopper_client.get(f"/orders/{order.number}/").content.decode()
    assert "Express delivery" in content and "€12.90" in content


def test_a_method_that_does_not_ship_to_the_country_is_refused(shopper_client, product, methods):
    _, express = methods
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = shopper_client.get("/checkout/")
    data = {**ADDRESS, "idempotency_key": _key(page), "shipping_method": express.pk}  # GB
    response = shopper_client.post("/checkout/", data)
    assert response.status_code == 200
    assert "Express delivery does not deliver to United Kingdom." in response.content.decode()
    assert Order.objects.count() == 0


def test_api_checkout_takes_a_method_and_defaults_to_the_first_that_ships(
    user_client, product, methods
):
    _, express = methods
    cart = services.cart_get_or_create(user=user_client.user)

    def checkout(body):
        services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
        return user_client.post(
            "/api/v1/orders/", body, format="json", HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex
        )

    response = checkout({"shipping_address": ADDRESS})
    assert response.status_code == 201
    assert response.json()["shipping_method_name"] == "Standard delivery"
    assert response.json()["shipping"] == "4.90"

    body = {"shipping_address": {**ADDRESS, "country": "AT"}, "shipping_method": express.pk}
    response = checkout(body)
    assert response.status_code == 201
    assert response.json()["shipping"] == "12.90"

    response = checkout({"shipping_address": ADDRESS, "shipping_method": express.pk})
    assert response.status_code == 400
    assert "shipping_method" in field_errors(response)
    response = checkout({"shipping_address": ADDRESS, "shipping_method": 999999})
    assert response.status_code == 400
    assert error_code(response) == "invalid"


def test_api_lists_shipping_methods_for_a_country(api_client, methods):
    everywhere = api_client.get("/api/v1/shipping-methods/").json()
    assert [m["name"] for m in everywhere] == ["Standard delivery", "Express delivery"]
    british = api_client.get("/api/v1/shipping-methods/", {"country": "GB"}).json()
    assert [m["name"] for m in british] == ["Standard delivery"]
    assert everywhere[1]["countries"] == ["AT", "DE"]


def test_without_methods_the_settings_flat_rate_still_applies(user, product, settings):
    settings.SHIPPING_FLAT_RATE, settings.SHIPPING_FREE_OVER = "3.00", ""
    order = place_order(user, {product: 1})
    assert order.shipping == Decimal("3.00")
    assert order.shipping_method_name == "Standard shipping"


# ------------------------------------------------------------------------------
# Address book
# ------------------------------------------------------------------------------
def test_checkout_remembers_the_address_and_fills_the_name_next_time(product, methods):
    user = UserFactory(first_name="Grace", last_name="Hopper")
    client = Client()
    client.force_login(user)
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = client.get("/checkout/")
    assert 'value="Grace Hopper"' in page.content.decode()
    data = {**ADDRESS, "idempotency_key": _key(page), "save_address": "on"}
    assert client.post("/checkout/", data).status_code == 302
    saved = Address.objects.get(user=user)
    assert saved.is_default and saved.city == "London"

    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = client.get("/checkout/")
    content = page.content.decode()
    assert 'data-testid="saved-addresses"' in content
    assert f'value="{saved.pk}"' in content and "checked" in content
    # Only the saved address is sent: the typed fields may stay empty.
    response = client.post("/checkout/", {"saved_address": saved.pk, "idempotency_key": _key(page)})
    assert response.status_code == 302
    second = Order.objects.order_by("-id").first()
    assert second.shipping_address["line1"] == ADDRESS["line1"]
    assert Address.objects.filter(user=user).count() == 1


def test_someone_elses_address_cannot_be_chosen(shopper_client, product, other_user):
    theirs = address_book.address_create(user=other_user, data=ADDRESS)
    mine = address_book.address_create(user=shopper_client.user, data={**ADDRESS, "city": "Bath"})
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = shopper_client.get("/checkout/")
    response = shopper_client.post(
        "/checkout/", {"saved_address": theirs.pk, "idempotency_key": _key(page)}
    )
    assert response.status_code == 200
    assert Order.objects.count() == 0
    assert mine.pk != theirs.pk


def test_address_book_pages_add_edit_default_and_delete(shopper_client):
    user = shopper_client.user
    response = shopper_client.post("/account/addresses/", {**ADDRESS}, follow=True)
    assert "Address saved." in response.content.decode()
    first = Address.objects.get(user=user)
    assert first.is_default  # the first address is the default
    shopper_client.post(
        "/account/addresses/", {**ADDRESS, "city": "Leeds", "country": "GB", "is_default": "on"}
    )
    second = Address.objects.get(user=user, city="Leeds")
    first.refresh_from_db()
    assert second.is_default and not first.is_default

    shopper_client.post(f"/account/addresses/{first.pk}/default/")
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.is_default and not second.is_default

    response = shopper_client.post(
        f"/account/addresses/{second.pk}/", {**ADDRESS, "city": "York"}, follow=True
    )
    second.refresh_from_db()
    assert second.city == "York" and "Address updated." in response.content.decode()

    shopper_client.post(f"/account/addresses/{first.pk}/delete/")
    second.refresh_from_db()
    assert second.is_default  # the default moved to the one left
    content = shopper_client.get("/account/addresses/").content.decode()
    assert "York" in content and "United Kingdom" in content


def test_another_users_address_is_not_found(shopper_client, other_user):
    theirs = address_book.address_create(user=other_user, data=ADDRESS)
    assert shopper_client.get(f"/account/addresses/{theirs.pk}/").status_code == 404
    assert shopper_client.post(f"/account/addresses/{theirs.pk}/delete/").status_code == 404
    assert Address.objects.filter(pk=theirs.pk).exists()


def test_the_database_keeps_one_default_address_per_user(user):
    Address.objects.create(user=user, is_default=True, **ADDRESS)
    with pytest.raises(IntegrityError):
        Address.objects.create(user=user, is_default=True, **ADDRESS)


def test_address_api_crud_keeps_one_default(user_client):
    created = user_client.post("/api/v1/addresses/", ADDRESS, format="json")
    assert created.status_code == 201 and created.json()["is_default"] is True
    other = user_client.post(
        "/api/v1/addresses/", {**ADDRESS, "city": "Leeds", "is_default": True}, format="json"
    ).json()
    listed = user_client.get("/api/v1/addresses/").json()
    assert [a["city"] for a in listed] == ["Leeds", "London"]
    assert [a["is_default"] for a in listed] == [True, False]
    bad = user_client.post("/api/v1/addresses/", {**ADDRESS, "country": "Germany"}, format="json")
    assert bad.status_code == 400 and "country" in field_errors(bad)
    patched = user_client.patch(f"/api/v1/addresses/{other['id']}/", {"city": "York"})
    assert patched.json()["city"] == "York" and patched.json()["country"] == "GB"
    assert user_client.delete(f"/api/v1/addresses/{other['id']}/").status_code == 204
    assert user_client.get("/api/v1/addresses/").json()[0]["is_default"] is True


# ------------------------------------------------------------------------------
# Guests
# ------------------------------------------------------------------------------
def _guest_checkout(client, product, email="guest@example.com"):
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})
    page = client.get("/checkout/")
    data = {**ADDRESS, "email": email, "idempotency_key": _key(page)}
    return client.post("/checkout/", data)


def test_guest_checks_out_pays_page_opens_and_the_email_carries_a_signed_link(
    client, product, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _guest_checkout(client, product)
    order = Order.objects.get()
    assert order.user is None and order.email == "guest@example.com"
    assert response["Location"] == f"/orders/{order.number}/pay/"
    assert client.get(f"/orders/{order.number}/pay/").status_code == 200

    confirmation = mail.outbox[-1]
    link = re.search(r"http://\S+/orders/guest/(\S+)/", confirmation.body)
    assert link, confirmation.body
    stranger = Client()
    assert stranger.get(f"/guest-orders/{order.number}/").status_code == 404
    assert stranger.get(f"/orders/{order.number}/pay/").status_code == 302  # to log in
    opened = stranger.get(f"/orders/guest/{link.group(1)}/", follow=True)
    assert opened.status_code == 200 and order.number in opened.content.decode()
    assert stranger.get(f"/orders/{order.number}/pay/").status_code == 200
    assert stranger.get(f"/orders/guest/{link.group(1)}x/").status_code == 404


def test_guest_cancels_after_confirming(client, product):
    _guest_checkout(client, product)
    order = Order.objects.get()
    page = client.get(f"/guest-orders/{order.number}/").content.decode()
    assert f'href="/guest-orders/{order.number}/cancel/"' in page
    confirm = client.get(f"/guest-orders/{order.number}/cancel/").content.decode()
    assert f"Cancel order {order.number}?" in confirm
    response = client.post(f"/guest-orders/{order.number}/cancel/", follow=True)
    assert f"Order {order.number} was cancelled." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED
    assert order.events.last().note == "Cancelled by the customer."


def test_a_guest_cancel_while_a_payment_is_in_progress_is_refused_in_words(client, product):
    _guest_checkout(client, product)
    order = Order.objects.get()
    Order.objects.filter(pk=order.pk).update(payment_started_at=timezone.now())  # paying now

    response = client.post(f"/guest-orders/{order.number}/cancel/", follow=True)

    assert response.status_code == 200
    page = response.content.decode()
    assert "was cancelled" not in page
    assert "payment" in page.lower()
    order.refresh_from_db()
    assert order.status == OrderStatus.PENDING_PAYMENT


def test_guest_creates_an_account_that_adopts_the_order_once_verified(
    client, product, django_capture_on_commit_callbacks
):
    _guest_checkout(client, product, email="ada@example.com")
    order = Order.objects.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            f"/guest-orders/{order.number}/", {"password": "a-long-unusual-passphrase"}
        )
    assert response.status_code == 302
    user = type(order).user.field.related_model.objects.get(email="ada@example.com")
    assert user.orders.count() == 0  # not before the address is confirmed
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    other = Client()
    assert (
        other.post(
            "/account/login/", {"email": "ada@example.com", "password": "a-long-unusual-passphrase"}
        ).status_code
        == 302
    )
    order.refresh_from_db()
    assert order.user == user
    assert order.number in other.get("/orders/").content.decode()


def test_guest_order_link_of_an_adopted_order_no_longer_opens_it(client, product, user):
    _guest_checkout(client, product, email=user.email)
    order = Order.objects.get()
    token = guest.guest_order_token(order=order)
    guest.guest_orders_adopt(user=user)
    assert Client().get(f"/orders/guest/{token}/").status_code == 404


def test_an_unverified_account_does_not_adopt_guest_orders(client, product):
    _guest_checkout(client, product, email="eve@example.com")
    eve = UserFactory(email="eve@example.com", email_verified=False)
    assert guest.guest_orders_adopt(user=eve) == 0
    assert Order.objects.get().user is None


# ------------------------------------------------------------------------------
# Words, counts, confirmation
# ------------------------------------------------------------------------------
def test_add_to_cart_stays_on_the_product_page_and_the_header_counts(client, product):
    page = f"/products/{product.slug}/"
    response = client.post(
        "/cart/add/", {"product": product.pk, "quantity": 3, "next": page}, follow=True
    )
    assert response.redirect_chain[-1][0] == page
    content = response.content.decode()
    assert f"Added 3 x {product.name} to your cart." in content
    assert 'data-testid="cart-count">3<' in content


def test_shoppers_see_words_for_people_not_internal_notes(shopper_client, product):
    order = place_order(shopper_client.user, {product: 1})
    services.order_transition(order=order, to_status=OrderStatus.PAID, note="Paid by card (x 2).")
    services.order_transition(
        order=order, to_status=OrderStatus.PROCESSING, note="Changed in admin."
    )
    content = shopper_client.get(f"/orders/{order.number}/").content.decode()
    assert "Changed in admin." not in content and "Paid by card (x 2)." not in content
    assert "Payment received. Thank you!" in content and "We are packing your order." in content
    assert re.search(r"\d{1,2} \w{3} \d{4}, \d\d:\d\d (CET|CEST)", content)
