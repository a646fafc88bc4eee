"""Helpers for orders tests: stocked products and orders placed through the real services."""

import uuid
from decimal import Decimal

from inventory import services as inventory_services
from orders import services
from tests.factories import ProductFactory

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}


def stocked_product(on_hand: int = 10, price: str = "10.00", **fields):
    """Return an active product with `on_hand` units received into stock."""
    product = ProductFactory(price=Decimal(price), **fields)
    if on_hand:
        inventory_services.stock_receive(
            stock_item=inventory_services.stock_item_for_product(product=product),
            quantity=on_hand,
        )
    return product


def place_order(user, lines, address=None):
    """Fill the user's cart with {product: quantity} and check out; return the order."""
    cart = services.cart_get_or_create(user=user)
    for product, quantity in lines.items():
        services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)
    order, _ = services.order_checkout(
        user=user, shipping_address=address or ADDRESS, idempotency_key=uuid.uuid4().hex
    )
    return order
