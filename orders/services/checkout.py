"""Checkout: a cart becomes a pending order with its stock reserved, once per key.

Lock order: the idempotency key, then the cart row and its lines, then (inventory) the
stock rows in id order; see orders.locking for the order, payment and stock order.
"""

import hashlib
import json
import secrets
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models.signals import post_save

from catalog.models import Product
from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from inventory.errors import InsufficientStock
from inventory.models import StockItem
from outbox.services import tasks_enqueue

from .. import shipping
from ..errors import CartEmpty, EmailNotVerified, IdempotencyKeyReused, ProductUnavailable
from ..models import Cart, CartItem, IdempotencyRecord, Order, OrderEvent, OrderLine
from .base import S, _now, _postgresql

NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def shipping_for(*, subtotal: Decimal) -> Decimal:
    """Return the shipping charge: flat, or free from SHIPPING_FREE_OVER upwards."""
    free_over = str(settings.SHIPPING_FREE_OVER or "").strip()
    if free_over and subtotal >= Decimal(free_over):
        return Decimal("0.00")
    return Decimal(str(settings.SHIPPING_FLAT_RATE or "0")).quantize(Decimal("0.01"))


def request_hash(body: Mapping) -> str:
    """Return a stable hash of a checkout body (key order and spacing do not matter)."""
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _order_number(now) -> str:
    suffix = "".join(secrets.choice(NUMBER_ALPHABET) for _ in range(6))
    return f"{now:%y%m%d}-{suffix}"


def _claim_key(*, user, key: str, body_hash: str) -> int | None:
    """Claim (user, key) in the open transaction; return the record id, or None if taken.

    One `INSERT ... ON CONFLICT DO NOTHING RETURNING`: a concurrent request with the same key
    waits on the unique index until the first commits (then this finds it taken and replays)
    or rolls back (then this claims it). No savepoint, and no read unless it was taken.
    """
    if not _postgresql():
        try:
            with transaction.atomic():
                return IdempotencyRecord.objects.create(
                    user=user, key=key, request_hash=body_hash
                ).pk
        except IntegrityError:
            return None
    table = connection.ops.quote_name(IdempotencyRecord._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (user_id, key, request_hash, created_at) "  # noqa: S608
            "VALUES (%s, %s, %s, %s) ON CONFLICT (user_id, key) DO NOTHING RETURNING id",
            [user.pk, key, body_hash, _now()],
        )
        row = cursor.fetchone()
    return row[0] if row else None


class _CartLine:
    """A cart line as checkout reads it: the item, its product's snapshot, what is available."""

    __slots__ = ("cart_id", "item_id", "name", "price", "product_id", "quantity", "sku")

    def __init__(self, cart_id, item_id, product_id, quantity, sku, name, price):
        self.cart_id, self.item_id, self.product_id = cart_id, item_id, product_id
        self.quantity, self.sku, self.name, self.price = quantity, sku, name, price


def _checkout_cart_lines(*, user_id=None, cart_id=None) -> list[_CartLine]:
    """Lock the user's cart and its lines (cart row first) and return the lines, in id order.

    Refuses before anything is written: an empty cart, inactive products, and lines the
    committed stock cannot serve (an unlocked check; stock_reserve checks again under its
    locks). On PostgreSQL one statement does it all: locking the line rows too makes a line
    deleted meanwhile (a concurrent checkout of this cart) drop out, and a changed quantity
    be read as committed.
    """
    if user_id is not None:
        where, key, carts = "c.user_id = %s", user_id, Cart.objects.filter(user_id=user_id)
    else:  # a guest's cart
        where, key = "c.id = %s AND c.user_id IS NULL", cart_id
        carts = Cart.objects.filter(pk=cart_id, user__isnull=True)
    if _postgresql():
        qn = connection.ops.quote_name
        cart_t, item_t = qn(Cart._meta.db_table), qn(CartItem._meta.db_table)
        product_t = qn(Product._meta.db_table)
        stock_t = qn(StockItem._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT c.id, i.id, i.product_id, i.quantity, p.sku, p.name, p.price, "  # noqa: S608
                "p.active, COALESCE(s.on_hand - s.reserved, 0) "
                f"FROM {cart_t} c JOIN {item_t} i ON i.cart_id = c.id "
                f"JOIN {product_t} p ON p.id = i.product_id "
                f"LEFT JOIN {stock_t} s ON s.product_id = i.product_id "
                f"WHERE {where} ORDER BY i.id FOR UPDATE OF c, i",
                [key],
            )
            rows = cursor.fetchall()
        lines = [_CartLine(*row[:7]) for row in rows]
        inactive = {row[2] for row in rows if not row[7]}
        available = {row[2]: max(row[8], 0) for row in rows}
    else:
        cart = carts.select_for_update().first()
        items = list(cart.items.select_related("product").order_by("id")) if cart else []
        lines = [
            _CartLine(
                item.cart_id,
                item.pk,
                item.product_id,
                item.quantity,
                item.product.sku,
                item.product.name,
                item.product.price,
            )
            for item in items
        ]
        inactive = {item.product_id for item in items if not item.product.active}
        available = inventory_selectors.stock_available(
            product_ids=[line.product_id for line in lines]
        )
    if not lines:
        raise CartEmpty()
    if inactive:
        raise ProductUnavailable(inactive)
    InsufficientStock.raise_if_short(_demand_of(lines), available)
    return lines


def _demand_of(lines) -> dict[int, int]:
    demand: dict[int, int] = {}
    for line in lines:
        demand[line.product_id] = demand.get(line.product_id, 0) + line.quantity
    return demand


def _order_insert(order: Order, *, record_id: int) -> None:
    """Insert the order under a fresh random number and tie the idempotency record to it.

    The unique index on the number decides: a collision (rare) inserts nothing and a new
    number is drawn, without a savepoint. On PostgreSQL the record is tied in the same
    statement (a data-modifying CTE).
    """
    if not _postgresql():
        for _ in range(10):
            order.number = _order_number(order.placed_at)
            if not Order.objects.filter(number=order.number).exists():
                order.save(force_insert=True)
                IdempotencyRecord.objects.filter(pk=record_id).update(order=order)
                return
        raise RuntimeError("Could not find a free order number.")  # pragma: no cover
    qn = connection.ops.quote_name
    fields = [field for field in Order._meta.concrete_fields if not field.primary_key]
    record_t = qn(IdempotencyRecord._meta.db_table)
    columns = ", ".join(qn(field.column) for field in fields)
    sql = (
        f"WITH o AS (INSERT INTO {qn(Order._meta.db_table)} ({columns}) "  # noqa: S608
        f"VALUES ({', '.join(['%s'] * len(fields))}) "
        f"ON CONFLICT ({qn('number')}) DO NOTHING RETURNING id), "
        f"r AS (UPDATE {record_t} SET order_id = o.id FROM o WHERE {record_t}.id = %s) "
        "SELECT id FROM o"
    )
    for _ in range(10):
        order.number = _order_number(order.placed_at)
        params = [
            field.get_db_prep_save(field.pre_save(order, True), connection) for field in fields
        ]
        with connection.cursor() as cursor:
            cursor.execute(sql, [*params, record_id])
            row = cursor.fetchone()
        if row:
            order.pk = row[0]
            order._state.adding = False
            order._state.db = connection.alias
            # As Model.save() would: receivers (metrics) see the order being created.
            post_save.send(
                sender=Order,
                instance=order,
                created=True,
                update_fields=None,
                raw=False,
                using=connection.alias,
            )
            return
    raise RuntimeError("Could not find a free order number.")  # pragma: no cover


def _replay(record: IdempotencyRecord, body_hash: str) -> Order:
    if record.request_hash != body_hash:
        raise IdempotencyKeyReused()
    return record.order


def order_checkout(
    *, user, shipping_address: Mapping, idempotency_key: str, shipping_method_id=None
) -> tuple[Order, bool]:
    """Turn the user's cart into a pending order with its stock reserved; return (order, created).

    The same key with the same body returns the order it made; with another body it is
    refused. Short stock raises InsufficientStock and writes nothing (the key is not used up).
    Without `shipping_method_id` the default method for the address's country is used.
    """
    if not user.email_verified:
        raise EmailNotVerified()
    address = dict(shipping_address)
    body = {"shipping_address": address}
    if shipping_method_id is not None:
        body["shipping_method"] = shipping_method_id
    body_hash = request_hash(body)

    with transaction.atomic():
        # Claim the key first: a concurrent request with the same key waits here
        # until this one commits (then replays it) or rolls back (then goes on).
        record_id = _claim_key(user=user, key=idempotency_key, body_hash=body_hash)
        if record_id is None:
            record = IdempotencyRecord.objects.select_related("order").get(
                user=user, key=idempotency_key
            )
            return _replay(record, body_hash), False

        # The cart row first (the cart lock order, see _cart_lock): one checkout per cart at a
        # time, and adds or merges from another device wait until this one commits. Every
        # refusal (empty cart, inactive product, short stock) happens here, before any write.
        lines = _checkout_cart_lines(user_id=user.pk)
        method = shipping.shipping_method_resolve(
            method_id=shipping_method_id, country=address.get("country", "")
        )
        order = _order_place_from_lines(
            lines=lines,
            user=user,
            email=user.email,
            address=address,
            method=method,
            record_id=record_id,
        )
    return order, True


def order_checkout_guest(
    *, cart_id, email: str, shipping_address: Mapping, shipping_method_id=None
) -> Order:
    """Turn a guest's cart into a pending order for that email, with its stock reserved.

    The cart row lock makes a double submit wait and then find the cart empty (CartEmpty).
    """
    address = dict(shipping_address)
    method = shipping.shipping_method_resolve(
        method_id=shipping_method_id, country=address.get("country", "")
    )
    with transaction.atomic():
        lines = _checkout_cart_lines(cart_id=cart_id)
        return _order_place_from_lines(
            lines=lines, user=None, email=email, address=address, method=method
        )


def _order_place_from_lines(
    *, lines, user, email: str, address: dict, method, record_id=None
) -> Order:
    """Make the order from the locked cart lines, empty them and reserve the stock (in a txn).

    `lines` come from _checkout_cart_lines (cart and lines locked, refusals already made).
    """
    now = _now()
    expires_at = now + timedelta(minutes=settings.RESERVATION_MINUTES)
    subtotal = sum((line.price * line.quantity for line in lines), Decimal("0.00"))
    shipping_charge = shipping.shipping_price(method=method, subtotal=subtotal)
    order = Order(
        user=user,
        email=email,
        status=S.PENDING_PAYMENT,
        subtotal=subtotal,
        shipping=shipping_charge,
        shipping_method=method,
        shipping_method_name=shipping.shipping_method_label(method),
        total=subtotal + shipping_charge,
        currency=settings.SHOP_CURRENCY,
        shipping_address=address,
        placed_at=now,
        reservation_expires_at=expires_at,
    )
    _order_insert(order, record_id=record_id)
    order_lines = OrderLine.objects.bulk_create(
        [
            OrderLine(
                order=order,
                product_id=line.product_id,
                sku=line.sku,
                name=line.name,
                unit_price=line.price,
                quantity=line.quantity,
                line_total=line.price * line.quantity,
            )
            for line in lines
        ]
    )
    event = OrderEvent.objects.create(
        order=order,
        from_status="",
        to_status=S.PENDING_PAYMENT,
        actor=user,
        note="Order placed.",
        at=now,
    )
    # Only the lines read above: one added by another device meanwhile stays in the cart.
    CartItem.objects.filter(pk__in=[line.item_id for line in lines]).delete()
    # Stock last: its row locks are then held only for the reservation and the commit,
    # and a shortage found under the locks still rolls back everything written above.
    after_commit = [("orders.tasks.order_event_notify", [event.pk], {})]
    inventory_services.stock_reserve_in_transaction(
        lines=_demand_of(lines),
        reference=order.number,
        expires_at=expires_at,
        actor=user,
        after_commit=after_commit,
    )
    tasks_enqueue(after_commit)
    # What was written, for a caller that answers without reading it back
    # (selectors.order_detail_from_checkout).
    order.checkout_lines, order.checkout_events = order_lines, [event]
    return order
