"""Helpers for payments tests: orders placed through the real services, signed webhooks."""

import hashlib
import hmac
import json
import time
import uuid
from decimal import Decimal

from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from orders import services as orders_services
from tests.factories import ProductFactory

ADDRESS = {
    "full_name": "Ada Lovelace",
    "line1": "12 St James's Square",
    "line2": "",
    "city": "London",
    "postal_code": "SW1Y 4JH",
    "country": "GB",
}
CARD_OK = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_PENDING = "4000000000003220"
WEBHOOK_URL = "/api/v1/payments/webhooks/dummy/"


def stocked_product(on_hand: int = 10, price: str = "10.00", **fields):
    product = ProductFactory(price=Decimal(price), **fields)
    if on_hand:
        inventory_services.stock_receive(
            stock_item=inventory_services.stock_item_for_product(product=product),
            quantity=on_hand,
        )
    return product


def place_order(user, lines):
    """Fill the user's cart with {product: quantity} and check out; return the order."""
    cart = orders_services.cart_get_or_create(user=user)
    for product, quantity in lines.items():
        orders_services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)
    order, _ = orders_services.order_checkout(
        user=user, shipping_address=ADDRESS, idempotency_key=uuid.uuid4().hex
    )
    return order


def stock_of(product):
    """(on_hand, reserved, available) of a product."""
    item = inventory_services.stock_item_for_product(product=product)
    item.refresh_from_db()
    return item.on_hand, item.reserved, item.available


def ledger_clean() -> bool:
    return inventory_selectors.stock_ledger_discrepancies() == []


def sign(body: bytes, secret: str, timestamp: int | None = None) -> str:
    """The X-Signature header exactly as a provider computes it (independent of our code)."""
    t = int(time.time()) if timestamp is None else timestamp
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def event_body(event_type: str, payment, event_id: str | None = None, **data) -> bytes:
    payload = {
        "payment": payment.gateway_reference,
        "amount": f"{payment.amount:.2f}",
        "currency": payment.currency,
        **data,
    }
    return json.dumps(
        {"id": event_id or f"evt_{uuid.uuid4().hex}", "type": event_type, "data": payload}
    ).encode()
