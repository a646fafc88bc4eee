"""Cart, checkout and order pages, for guests and signed-in shoppers."""

import re

import pytest
from django.test import Client

from orders import services
from orders.models import Order, OrderStatus
from tests.factories import UserFactory
from tests.orders.factories import ADDRESS, place_order, stocked_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def client():
    return Client()


@pytest.fixture
def shopper_client(client, user):
    client.force_login(user)
    client.user = user
    return client


def test_guest_adds_to_cart_from_the_product_page(client, product):
    page = client.get(f"/products/{product.slug}/")
    assert b'action="/cart/add/"' in page.content
    response = client.post("/cart/add/", {"product": product.pk, "quantity": 2}, follow=True)
    assert response.redirect_chain[-1][0] == "/cart/"
    content = response.content.decode()
    assert f"Added 2 x {product.name}" in content
    assert product.name in content and "25.00" in content


def test_adding_more_than_available_shows_a_clear_message(client, product):
    response = client.post(
        "/cart/add/",
        {"product": product.pk, "quantity": 11},
        HTTP_REFERER=f"http://testserver/products/{product.slug}/",
        follow=True,
    )
    assert response.redirect_chain[-1][0].endswith(f"/products/{product.slug}/")
    assert f"Only 10 of {product.name} available." in response.content.decode()
    assert "Your cart is empty" in client.get("/cart/").content.decode()


def test_bad_cart_form_input_is_reported(client, product):
    for data in ({"product": product.pk, "quantity": 0}, {"product": "x", "quantity": 1}):
        response = client.post("/cart/add/", data, follow=True)
        assert response.status_code == 200
        assert "message-error" in response.content.decode()
    response = client.post("/cart/add/", {"product": 999999, "quantity": 1}, follow=True)
    assert "Unknown or unavailable product." in response.content.decode()


def test_guest_updates_and_removes_cart_lines(client, product):
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    page = client.get("/cart/").content.decode()
    item_id = re.search(r'/cart/items/(\d+)/"', page).group(1)
    response = client.post(f"/cart/items/{item_id}/", {"quantity": 4}, follow=True)
    assert "Updated" in response.content.decode() and 'value="4"' in response.content.decode()
    response = client.post(f"/cart/items/{item_id}/", {"quantity": 50}, follow=True)
    assert "Only 10" in response.content.decode()
    response = client.post(f"/cart/items/{item_id}/remove/", follow=True)
    assert "Your cart is empty" in response.content.decode()


def test_someone_elses_cart_line_is_not_found(client, user, product):
    cart = services.cart_get_or_create(user=user)
    item = services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
    assert client.post(f"/cart/items/{item.pk}/remove/").status_code == 404


def test_guest_cart_is_merged_into_the_users_cart_at_login(client, user, product):
    other = stocked_product(on_hand=5)
    cart = services.cart_get_or_create(user=user)
    services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})
    client.post("/cart/add/", {"product": other.pk, "quantity": 1})

    client.force_login(user)

    items = {i.product_id: i.quantity for i in user.cart.items.all()}
    assert items == {product.pk: 3, other.pk: 1}
    page = client.get("/cart/").content.decode()
    assert product.name in page and other.name in page


def test_guest_cart_is_merged_at_login_through_the_login_page(client, product):
    user = UserFactory(email="merge@example.com")
    user.set_password("a-long-enough-password-123")
    user.save()
    client.post("/cart/add/", {"product": product.pk, "quantity": 2})
    response = client.post(
        "/account/login/", {"email": "merge@example.com", "password": "a-long-enough-password-123"}
    )
    assert response.status_code == 302
    assert user.cart.items.get().quantity == 2


def test_checkout_as_a_guest_says_so_and_offers_to_log_in(client, product):
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    response = client.get("/checkout/")
    assert response.status_code == 200
    content = response.content.decode()
    assert "Checking out as a guest" in content
    assert 'href="/account/login/?next=/checkout/"' in content
    assert 'name="email"' in content


def test_checkout_with_empty_cart_goes_back_to_the_cart(shopper_client):
    response = shopper_client.get("/checkout/", follow=True)
    assert response.redirect_chain[-1][0] == "/cart/"
    assert "Your cart is empty" in response.content.decode()


def _checkout_form(client):
    page = client.get("/checkout/")
    assert page.status_code == 200
    key = re.search(r'name="idempotency_key" value="([0-9a-f]+)"', page.content.decode()).group(1)
    return page, {**ADDRESS, "idempotency_key": key}


def test_checkout_page_places_the_order_and_sends_to_payment(shopper_client, product):
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 2})
    page, data = _checkout_form(shopper_client)
    content = page.content.decode()
    for label in ("Full name", "Address", "City", "Postal code", "Country"):
        assert f">{label}</label>" in content
    assert "csrfmiddlewaretoken" in content

    response = shopper_client.post("/checkout/", data)

    order = Order.objects.get()
    assert response.status_code == 302
    assert response["Location"] == f"/orders/{order.number}/pay/"
    assert order.status == OrderStatus.PENDING_PAYMENT
    assert order.shipping_address["city"] == "London"

    # A double submit of the same form gives back the same order.
    again = shopper_client.post("/checkout/", data)
    assert again["Location"] == f"/orders/{order.number}/pay/"
    assert Order.objects.count() == 1


def test_checkout_form_shows_errors_next_to_fields(shopper_client, product):
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    _, data = _checkout_form(shopper_client)
    response = shopper_client.post("/checkout/", {**data, "country": "Germany", "city": ""})
    content = response.content.decode()
    assert response.status_code == 200
    assert 'id="id_country_error"' in content and 'id="id_city_error"' in content
    assert Order.objects.count() == 0


def test_checkout_with_short_stock_lists_the_short_lines(shopper_client):
    product = stocked_product(on_hand=3, name="Rare tea")
    shopper_client.post("/cart/add/", {"product": product.pk, "quantity": 3})
    _, data = _checkout_form(shopper_client)
    place_order(UserFactory(), {product: 2})
    response = shopper_client.post("/checkout/", data, follow=True)
    assert response.redirect_chain[-1][0] == "/cart/"
    assert "Rare tea: 1 available, you asked for 3" in response.content.decode()
    assert Order.objects.filter(user=shopper_client.user).count() == 0


def test_checkout_with_unverified_email_is_refused_in_the_form(client, product):
    user = UserFactory(email_verified=False)
    client.force_login(user)
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    _, data = _checkout_form(client)
    response = client.post("/checkout/", data)
    assert response.status_code == 200
    assert "verify your email" in response.content.decode()
    assert Order.objects.count() == 0


def test_order_history_page_lists_own_orders_with_status(shopper_client, other_user, product):
    mine = place_order(shopper_client.user, {product: 1})
    theirs = place_order(other_user, {product: 1})
    content = shopper_client.get("/orders/").content.decode()
    assert mine.number in content and theirs.number not in content
    assert "status-pending_payment" in content
    filtered = shopper_client.get("/orders/", {"status": "paid"}).content.decode()
    assert mine.number not in filtered


def test_order_history_page_query_count_is_fixed(shopper_client, django_assert_num_queries):
    products = [stocked_product(on_hand=100) for _ in range(3)]
    place_order(shopper_client.user, {products[0]: 1})
    shopper_client.get("/orders/")  # warm the session
    with django_assert_num_queries(len(_queries(shopper_client, "/orders/"))) as small:
        shopper_client.get("/orders/")
    for _ in range(6):
        place_order(shopper_client.user, dict.fromkeys(products, 1))
    with django_assert_num_queries(len(small.captured_queries)):
        shopper_client.get("/orders/")


def _queries(client, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        client.get(url)
    return ctx.captured_queries


def test_order_detail_page_query_count_is_fixed(shopper_client, django_assert_num_queries):
    small = place_order(shopper_client.user, {stocked_product(): 1})
    products = [stocked_product() for _ in range(8)]
    large = place_order(shopper_client.user, dict.fromkeys(products, 1))
    services.order_transition(order=large, to_status=OrderStatus.CANCELLED)
    shopper_client.get(f"/orders/{small.number}/")
    count = len(_queries(shopper_client, f"/orders/{small.number}/"))
    with django_assert_num_queries(count):
        shopper_client.get(f"/orders/{large.number}/")


def test_order_detail_page_shows_timeline_pay_link_and_cancel(shopper_client, product):
    order = place_order(shopper_client.user, {product: 2})
    content = shopper_client.get(f"/orders/{order.number}/").content.decode()
    assert f'href="/orders/{order.number}/pay/"' in content and "Pay now" in content
    # Cancelling asks first: the button leads to a page that names the order.
    assert f'href="/orders/{order.number}/cancel/confirm/"' in content
    assert 'data-testid="timeline"' in content and "Pending payment" in content
    assert product.name in content and f"€{order.total}" in content
    confirm = shopper_client.get(f"/orders/{order.number}/cancel/confirm/").content.decode()
    assert f"Cancel order {order.number}?" in confirm
    assert f'action="/orders/{order.number}/cancel/"' in confirm

    response = shopper_client.post(f"/orders/{order.number}/cancel/", follow=True)
    content = response.content.decode()
    assert f"Order {order.number} was cancelled." in content
    assert "Pay now" not in content and "Cancel order" not in content
    assert content.count("<li>") >= 2  # placed, cancelled
    order.refresh_from_db()
    assert order.status == OrderStatus.CANCELLED


def test_paid_order_cannot_be_cancelled_from_the_page(shopper_client, product):
    order = place_order(shopper_client.user, {product: 1})
    services.order_transition(order=order, to_status=OrderStatus.PAID)
    response = shopper_client.post(f"/orders/{order.number}/cancel/", follow=True)
    assert "Only unpaid orders can be cancelled here." in response.content.decode()
    order.refresh_from_db()
    assert order.status == OrderStatus.PAID


def test_another_users_order_page_is_not_found(shopper_client, other_user, product):
    theirs = place_order(other_user, {product: 1})
    assert shopper_client.get(f"/orders/{theirs.number}/").status_code == 404
    assert shopper_client.post(f"/orders/{theirs.number}/cancel/").status_code == 404


def test_order_pages_need_login(client, user, product):
    order = place_order(user, {product: 1})
    for url in ("/orders/", f"/orders/{order.number}/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/account/login/")


def test_abandoned_guest_carts_are_purged_but_not_fresh_or_user_carts(client, user, product):
    from datetime import timedelta

    from django.core.management import call_command
    from django.utils import timezone

    from orders.models import Cart

    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    old_guest = services.cart_get_or_create()
    old_user_cart = services.cart_get_or_create(user=user)
    Cart.objects.filter(pk__in=[old_guest.pk, old_user_cart.pk]).update(
        updated_at=timezone.now() - timedelta(days=40)
    )

    call_command("purge_guest_carts", "--days", "30")

    assert not Cart.objects.filter(pk=old_guest.pk).exists()
    assert Cart.objects.filter(pk=old_user_cart.pk).exists()
    assert product.name in client.get("/cart/").content.decode()


def test_merged_quantities_stay_within_the_per_product_limit(client, user):
    product = stocked_product(on_hand=2000)
    cart = services.cart_get_or_create(user=user)
    services.cart_item_add(cart=cart, product_id=product.pk, quantity=900)
    client.post("/cart/add/", {"product": product.pk, "quantity": 500})
    client.force_login(user)
    assert user.cart.items.get().quantity == 1000
