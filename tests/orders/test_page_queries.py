"""The shopper's cart and order pages make a fixed number of queries, pinned here.

A signed-in shopper's request reads the session and the user (2). Then:
- cart page (+1): the cart's lines with their products (the cart joined); the header's count
  comes from those lines and the free-shipping hint from the cached shipping methods;
- order history (+3): the count, the page of orders with their unit counts, the header's
  cart count;
- order detail (+5): the order with its user and shipping method, its lines, its events
  (with actors), its payments, the header's cart count.

A guest has no user to read: the cart page is the session and the lines (2), a guest order
the session, the order and the same three reads, and the header's count (6). None of these
grows with the number of lines, orders or events shown.
"""

import pytest
from django.test import Client

from orders import guest, services
from orders.models import OrderStatus, ShippingMethod
from tests.orders.factories import ADDRESS, place_order, stocked_product

pytestmark = pytest.mark.django_db

SHOPPER = 2  # session, user
CART_PAGE = SHOPPER + 1
ORDER_HISTORY_PAGE = SHOPPER + 3
ORDER_DETAIL_PAGE = SHOPPER + 5
GUEST_CART_PAGE = 2
GUEST_ORDER_PAGE = 6


@pytest.fixture
def shopper(user):
    client = Client()
    client.force_login(user)
    client.get("/cart/")  # the session is warm, as on any later request
    client.user = user
    return client


@pytest.fixture
def method(db):
    return ShippingMethod.objects.create(
        name="Standard delivery", price="4.90", free_over="50.00", delivery_estimate="2-3 days"
    )


def _add(user, products, quantity=1):
    cart = services.cart_get_or_create(user=user)
    for product in products:
        services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)


@pytest.mark.parametrize("lines", [1, 6])
def test_cart_page(shopper, method, lines, django_assert_num_queries):
    _add(shopper.user, [stocked_product(price="3.00") for _ in range(lines)], quantity=2)
    shopper.get("/cart/")  # the shipping methods are cached, as after any earlier page
    with django_assert_num_queries(CART_PAGE):
        page = shopper.get("/cart/")
    content = page.content.decode()
    assert content.count('class="cell-product"') == lines
    assert f'data-testid="cart-count">{2 * lines}<' in content  # the header, from the lines


def test_guest_cart_page(client, method, product, django_assert_num_queries):
    client.post("/cart/add/", {"product": product.pk, "quantity": 3})
    client.get("/cart/")
    with django_assert_num_queries(GUEST_CART_PAGE):
        page = client.get("/cart/")
    assert 'data-testid="cart-count">3<' in page.content.decode()


@pytest.mark.parametrize("orders", [1, 7])
def test_order_history_page(shopper, orders, django_assert_num_queries):
    products = [stocked_product(on_hand=50) for _ in range(3)]
    placed = [place_order(shopper.user, dict.fromkeys(products, 1)) for _ in range(orders)]
    with django_assert_num_queries(ORDER_HISTORY_PAGE):
        page = shopper.get("/orders/")
    content = page.content.decode()
    assert all(order.number in content for order in placed)
    with django_assert_num_queries(ORDER_HISTORY_PAGE):
        shopper.get("/orders/", {"status": OrderStatus.PENDING_PAYMENT, "page": 1})


@pytest.mark.parametrize("lines", [1, 8])
def test_order_detail_page(shopper, method, lines, django_assert_num_queries):
    order = place_order(shopper.user, {stocked_product(): 1 for _ in range(lines)})
    services.order_transition(order=order, to_status=OrderStatus.CANCELLED)  # one more event
    with django_assert_num_queries(ORDER_DETAIL_PAGE):
        page = shopper.get(f"/orders/{order.number}/")
    content = page.content.decode()
    assert order.number in content and "2-3 days" in content  # the method, joined


def test_guest_order_page(client, method, product, django_assert_num_queries):
    client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    order = services.order_checkout_guest(
        cart_id=client.session["cart_id"], email="guest@example.com", shipping_address=ADDRESS
    )
    session = client.session
    guest.guest_orders_remember(session=session, order=order)
    session.save()
    client.get(f"/guest-orders/{order.number}/")
    with django_assert_num_queries(GUEST_ORDER_PAGE):
        page = client.get(f"/guest-orders/{order.number}/")
    assert order.number in page.content.decode()
