"""Writes to carts and orders: cart changes, checkout, and the order lifecycle.

Lock order: see orders.locking (the order row, then payments, then stock rows by id).
"""

import hashlib
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce
from django.db.models.signals import post_save
from django.template.loader import render_to_string
from django.utils import timezone

from accounts.links import email_link
from catalog.models import Product
from inventory import selectors as inventory_selectors
from inventory import services as inventory_services
from inventory.errors import InsufficientStock, Shortage
from inventory.models import StockItem
from outbox.mail import mail_send_once
from outbox.services import task_enqueue, tasks_enqueue

from . import guest, shipping
from .errors import (
    CartEmpty,
    CartItemGone,
    EmailNotVerified,
    IdempotencyKeyReused,
    InvalidTransition,
    PaymentInProgress,
    ProductUnavailable,
)
from .locking import order_lock
from .models import (
    MAX_LINE_QUANTITY,
    Cart,
    CartItem,
    IdempotencyRecord,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
)
from .selectors import cart_get_for_guest
from .signals import order_closing, order_refund_requested

logger = logging.getLogger(__name__)

S = OrderStatus

# The one transition table: status -> the statuses it may move to.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
    S.DELIVERED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
}

# Steps the shopper is emailed about (the order being placed has to_status pending_payment).
NOTIFIED_STATUSES = frozenset({S.PENDING_PAYMENT, S.SHIPPED, S.DELIVERED, S.CANCELLED, S.EXPIRED})

NUMBER_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"  # no 0/O, 1/I/L


def _now():
    return timezone.now()


# ------------------------------------------------------------------------------
# Cart
# ------------------------------------------------------------------------------
def _check_quantity(quantity: int, field: str = "quantity") -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int):
        raise ValidationError({field: ["Enter a whole number."]})
    if quantity < 1:
        raise ValidationError({field: ["Must be at least 1."]})
    if quantity > MAX_LINE_QUANTITY:
        raise ValidationError({field: [f"At most {MAX_LINE_QUANTITY} per product."]})
    return quantity


def _check_available(product: Product, quantity: int) -> None:
    available = inventory_selectors.stock_available(product_ids=[product.pk])[product.pk]
    _refuse_beyond(product, quantity, available=available)


def _refuse_beyond(product: Product, quantity: int, *, available: int) -> None:
    if quantity > available:
        message = (
            f"Only {available} of {product.name} available."
            if available
            else f"{product.name} is out of stock."
        )
        raise ValidationError({"quantity": [message]})


def cart_get_or_create(*, user=None) -> Cart:
    """Return the user's cart, made on first use; without a user, a new guest cart.

    One SELECT when the cart exists (get_or_create guards its own INSERT with a savepoint).
    """
    if user is None:
        return Cart.objects.create()
    cart, _ = Cart.objects.get_or_create(user=user)
    return cart


# Lock order for carts (as for orders, payments and stock, see DESIGN.md): the cart row
# first, then its lines. Every cart write (add, update, remove, merge, checkout) takes the
# cart row with SELECT ... FOR UPDATE before it reads or writes a line, so two devices
# working on one cart queue behind each other instead of deadlocking, and a line that does
# not exist yet cannot be inserted twice (the lock covers the check and the insert).
def _cart_lock(cart_id) -> Cart:
    """Lock the cart row (the first lock of every cart write) and return it."""
    cart = Cart.objects.select_for_update().filter(pk=cart_id).first()
    if cart is None:  # a guest cart merged into an account or purged meanwhile
        raise ValidationError({"cart": ["Your cart is no longer available."]})
    return cart


def _cart_touch(cart: Cart) -> None:
    Cart.objects.filter(pk=cart.pk).update(updated_at=_now())


@transaction.atomic
def cart_item_add(*, cart: Cart, product_id: int, quantity: int) -> CartItem:
    """Add a product to the cart (adding to its quantity if present), within what is available.

    Four statements in the transaction: the cart row locked by touching it (an UPDATE takes
    the same row lock as SELECT ... FOR UPDATE: the cart lock order holds), then one read of
    the product, its available stock and the line already in the cart, then the line's
    INSERT or UPDATE. A refusal rolls the touch back.
    """
    _check_quantity(quantity)
    if not Cart.objects.filter(pk=cart.pk).update(updated_at=_now()):
        raise ValidationError({"cart": ["Your cart is no longer available."]})
    in_cart = CartItem.objects.filter(cart=cart.pk, product=OuterRef("pk"))
    product = (
        Product.objects.filter(pk=product_id, active=True)
        .annotate(
            stock_available=Coalesce(F("stock__on_hand") - F("stock__reserved"), 0),
            cart_item_id=Subquery(in_cart.values("pk")[:1]),
            cart_item_quantity=Subquery(in_cart.values("quantity")[:1]),
        )
        .first()
    )
    if product is None:
        raise ValidationError({"product": ["Unknown or unavailable product."]})
    total = quantity + (product.cart_item_quantity or 0)
    if total > MAX_LINE_QUANTITY:
        raise ValidationError({"quantity": [f"At most {MAX_LINE_QUANTITY} per product."]})
    _refuse_beyond(product, total, available=max(product.stock_available, 0))
    if product.cart_item_id is None:
        return CartItem.objects.create(cart=cart, product=product, quantity=total)
    CartItem.objects.filter(pk=product.cart_item_id).update(quantity=total)
    item = CartItem(pk=product.cart_item_id, cart=cart, product=product, quantity=total)
    item._state.adding, item._state.db = False, CartItem.objects.db
    return item


@transaction.atomic
def cart_item_update(*, item: CartItem, quantity: int) -> CartItem:
    """Set a cart line's quantity, within what is available."""
    _check_quantity(quantity)
    cart = _cart_lock(item.cart_id)
    current = CartItem.objects.select_related("product").filter(pk=item.pk, cart=cart).first()
    if current is None:
        raise CartItemGone()
    _check_available(current.product, quantity)
    current.quantity = quantity
    current.save(update_fields=["quantity"])
    _cart_touch(cart)
    item.quantity = quantity
    return current


@transaction.atomic
def cart_item_remove(*, item: CartItem) -> None:
    """Remove a cart line (nothing to do if another device removed it first)."""
    cart = _cart_lock(item.cart_id)
    CartItem.objects.filter(pk=item.pk, cart=cart).delete()
    _cart_touch(cart)


@transaction.atomic
def cart_merge(*, source: Cart, target: Cart) -> int:
    """Move the guest cart's lines into the user's cart (summing, capped at 1000)."""
    if source.pk == target.pk:
        return 0
    # Both cart rows, in id order, before any line: the same order as every other cart write.
    locked = {
        cart.pk: cart
        for cart in Cart.objects.select_for_update()
        .filter(pk__in=[source.pk, target.pk])
        .order_by("pk")
    }
    if source.pk not in locked:  # merged by a concurrent login already
        return 0
    if target.pk not in locked:
        raise ValidationError({"cart": ["Your cart is no longer available."]})
    existing = {item.product_id: item for item in CartItem.objects.filter(cart=target)}
    moved = 0
    for item in CartItem.objects.filter(cart=source).order_by("id"):
        mine = existing.get(item.product_id)
        if mine is None:
            CartItem.objects.create(cart=target, product_id=item.product_id, quantity=item.quantity)
        else:
            mine.quantity = min(mine.quantity + item.quantity, MAX_LINE_QUANTITY)
            mine.save(update_fields=["quantity"])
        moved += 1
    locked[source.pk].delete()
    _cart_touch(locked[target.pk])
    return moved


@transaction.atomic
def carts_purge_guest(*, older_than) -> int:
    """Delete guest carts untouched since `older_than` (their sessions are long gone)."""
    _, per_model = Cart.objects.filter(user__isnull=True, updated_at__lt=older_than).delete()
    return per_model.get(Cart._meta.label, 0)


def cart_subtotal(*, items) -> Decimal:
    return sum((item.product.price * item.quantity for item in items), Decimal("0.00"))


# ------------------------------------------------------------------------------
# Checkout
# ------------------------------------------------------------------------------
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


def _postgresql() -> bool:
    return connection.vendor == "postgresql"


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
    demand = _demand_of(lines)
    shortages = [
        Shortage(product_id, requested, available.get(product_id, 0))
        for product_id, requested in sorted(demand.items())
        if requested > available.get(product_id, 0)
    ]
    if shortages:
        raise InsufficientStock(shortages)
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


# ------------------------------------------------------------------------------
# Lifecycle
# ------------------------------------------------------------------------------
def transition_allowed(*, from_status: str, to_status: str) -> bool:
    return to_status in TRANSITIONS.get(from_status, ())


def _lines_by_product(order: Order) -> dict[int, int]:
    demand: dict[int, int] = {}
    for product_id, quantity in order.lines.values_list("product_id", "quantity"):
        if product_id is not None:
            demand[product_id] = demand.get(product_id, 0) + quantity
    return demand


# Moves that only payments make (money went back), apart from the staff table above:
# a full refund before shipping ends the order; refunds after delivery track the money.
REFUND_TRANSITIONS: dict[str, frozenset[str]] = {
    S.PAID: frozenset({S.REFUNDED}),
    S.PROCESSING: frozenset({S.REFUNDED}),
    S.DELIVERED: frozenset({S.REFUNDED, S.PARTIALLY_REFUNDED}),
    S.PARTIALLY_REFUNDED: frozenset({S.PARTIALLY_REFUNDED, S.REFUNDED}),
}
# A fully refunded order never goes (back) towards the customer.
NOT_WHEN_FULLY_REFUNDED = frozenset({S.PROCESSING, S.SHIPPED})


def order_fully_refunded(order: Order) -> bool:
    return order.total > 0 and order.refunded_total >= order.total


def _order_move(locked: Order, *, to_status: str, actor=None, note: str = "") -> Order:
    """Apply one step to a locked order: its stock side effects, an event, the email."""
    from_status = locked.status
    if to_status in NOT_WHEN_FULLY_REFUNDED and order_fully_refunded(locked):
        raise InvalidTransition(
            from_status, to_status, message="This order was refunded in full; it cannot ship."
        )
    if (
        from_status == S.PENDING_PAYMENT
        and to_status in (S.CANCELLED, S.EXPIRED)
        and locked.payment_started_at is not None
    ):
        raise PaymentInProgress()
    now = _now()
    locked.status = to_status
    fields = ["status", "updated_at"]
    if to_status == S.PAID:
        committed = inventory_services.reservations_commit(reference=locked.number, actor=actor)
        if not committed and locked.lines.exists():
            # The stock held for this order went back on the shelf: selling it now could
            # oversell, so the order cannot be paid (payments refunds the money).
            raise InvalidTransition(
                from_status, to_status, message="The stock held for this order was released."
            )
        locked.paid_at = now
        locked.payment_started_at = None
        fields += ["paid_at", "payment_started_at"]
    elif from_status == S.PENDING_PAYMENT and to_status in (S.CANCELLED, S.EXPIRED):
        inventory_services.reservations_release(reference=locked.number, actor=actor)
    elif to_status in (S.CANCELLED, S.REFUNDED) and from_status in (S.PAID, S.PROCESSING):
        # Nothing has left the warehouse: the goods go back on the shelf, and anything still
        # held for the order is released.
        lines = _lines_by_product(locked)
        if lines:
            inventory_services.stock_return(lines=lines, reference=locked.number, actor=actor)
        inventory_services.reservations_release(reference=locked.number, actor=actor)
    locked.save(update_fields=fields)
    event = OrderEvent.objects.create(
        order=locked,
        from_status=from_status,
        to_status=to_status,
        actor=actor if getattr(actor, "pk", None) else None,
        note=note[:500],
        at=now,
    )
    if to_status == S.CANCELLED and from_status in (S.PAID, S.PROCESSING):
        # Payments queues the refund (after commit, in its own phases).
        order_refund_requested.send(sender=Order, order=locked, actor=actor)
    _queue_notification(event)
    return locked


@transaction.atomic
def order_transition(*, order: Order, to_status: str, actor=None, note: str = "") -> Order:
    """Move the order along the transition table, with its stock side effects and an event.

    -> paid commits the reservations; pending_payment -> cancelled/expired releases them
    (refused while a payment is in progress); paid|processing -> cancelled puts the goods
    back on the shelf and asks payments to refund. A fully refunded order never moves to
    processing or shipped.
    """
    locked = order_lock(order_id=order.pk)
    if to_status not in S.values or not transition_allowed(
        from_status=locked.status, to_status=to_status
    ):
        raise InvalidTransition(locked.status, to_status)
    _order_move(locked, to_status=to_status, actor=actor, note=note)
    # Callers keep using the instance they passed in.
    order.status, order.paid_at, order.updated_at = locked.status, locked.paid_at, locked.updated_at
    return locked


# ------------------------------------------------------------------------------
# What payments asks of orders (lock order: see orders.locking)
# ------------------------------------------------------------------------------
def order_unpayable_reason(*, order: Order, now=None) -> str:
    """Return why the order cannot take a payment now, or "" when it can."""
    now = now or _now()
    if order.status != S.PENDING_PAYMENT:
        return f"the order is {order.get_status_display().lower()}"
    if order.reservation_expires_at is not None and order.reservation_expires_at <= now:
        return "the order's reservation time has run out"
    return ""


def order_payment_begin(*, order_id: int, locked: Order | None = None) -> Order:
    """Lock the order for a payment's phase 1; refuse unless it can be paid now.

    Marks the order as having a payment in progress (cleared by `order_mark_paid` or
    `order_payment_end`), so it is neither cancelled nor expired while money moves.
    Runs inside the caller's transaction and takes the first lock of the lock order;
    `locked` is the row when the caller took that lock already (`order_lock`).
    """
    if locked is None or locked.pk != order_id:
        locked = order_lock(order_id=order_id)
    reason = order_unpayable_reason(order=locked)
    if reason:
        raise InvalidTransition(
            locked.status, S.PAID, message=f"This order cannot be paid: {reason}."
        )
    if locked.payment_started_at is None:
        locked.payment_started_at = _now()
        locked.save(update_fields=["payment_started_at", "updated_at"])
    return locked


def order_payment_end(*, order_id: int) -> Order:
    """Clear the payment-in-progress mark (the payment failed, or waits for its provider)."""
    locked = order_lock(order_id=order_id)
    if locked.payment_started_at is not None:
        locked.payment_started_at = None
        locked.save(update_fields=["payment_started_at", "updated_at"])
    return locked


def order_mark_paid(*, order_id: int, actor=None, note: str = "") -> Order:
    """Mark the order paid with its reservations committed; raise InvalidTransition if it can't.

    Runs inside the caller's (phase 3) transaction, which must not hold payment rows yet:
    this takes the order lock first.
    """
    locked = order_lock(order_id=order_id)
    # A payment that started in time may finish after the reservation time: the expiry
    # waits for it (payment_started_at), so the stock is still held.
    reason = order_unpayable_reason(
        order=locked, now=locked.payment_started_at if locked.payment_started_at else None
    )
    if reason:
        raise InvalidTransition(
            locked.status, S.PAID, message=f"The order cannot be paid: {reason}."
        )
    with transaction.atomic():  # a refused commit leaves the order as it was
        return _order_move(locked, to_status=S.PAID, actor=actor, note=note)


def order_refund_record(*, order_id: int, amount: Decimal) -> Order:
    """Count money being given back on the order (a refund's phase 1); nothing else changes.

    Counted at once so that an order being refunded in full never ships; what follows for
    the order waits for the provider (`order_refund_apply`), and a refusal takes the amount
    back (`order_refund_reverse`). Runs in the caller's transaction.
    """
    locked = order_lock(order_id=order_id)
    locked.refunded_total = min(locked.refunded_total + Decimal(amount), locked.total)
    locked.save(update_fields=["refunded_total", "updated_at"])
    return locked


def order_refund_apply(
    *,
    order_id: int,
    accepted_total: Decimal,
    actor=None,
    note: str = "",
    restock_lines: Mapping[int, int] | None = None,
) -> Order:
    """Apply a refund the provider accepted; `accepted_total` is all it accepted on the order.

    A refund of the whole paid amount before shipping ends the order (refunded, goods back
    on the shelf, reservations released); a partial one leaves it shippable. Refunds of a
    delivered order move it to refunded or partially_refunded. `restock_lines` (shipped or
    later: goods that came back) go back on the shelf. Runs in the caller's transaction.
    """
    locked = order_lock(order_id=order_id)
    if restock_lines:
        inventory_services.stock_return(lines=restock_lines, reference=locked.number, actor=actor)
    fully = locked.total > 0 and Decimal(accepted_total) >= locked.total
    if locked.status in (S.PAID, S.PROCESSING) and fully:
        to_status = S.REFUNDED
    elif locked.status in (S.DELIVERED, S.PARTIALLY_REFUNDED):
        to_status = S.REFUNDED if fully else S.PARTIALLY_REFUNDED
    else:
        return locked
    if to_status in REFUND_TRANSITIONS.get(locked.status, ()):
        _order_move(locked, to_status=to_status, actor=actor, note=note)
    return locked


def order_refund_reverse(*, order_id: int, amount: Decimal) -> Order:
    """Take back a counted refund the provider refused for good (the order keeps its status)."""
    locked = order_lock(order_id=order_id)
    locked.refunded_total = max(locked.refunded_total - Decimal(amount), Decimal("0.00"))
    locked.save(update_fields=["refunded_total", "updated_at"])
    return locked


def _in_transaction() -> bool:
    """Whether a transaction of ours is open (a test case's wrapping one does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def _order_closing_send(order: Order, *, to_status: str) -> None:
    """Let payments close what may still take money for the order; a receiver may refuse."""
    if _in_transaction():
        raise RuntimeError("An unpaid order is cancelled or expired with no transaction open.")
    order_closing.send(sender=Order, order=order, to_status=to_status)


def order_transition_by_staff(*, order: Order, to_status: str, actor, note: str = "") -> Order:
    """Move the order as staff asked (API, admin desk, bulk action).

    Cancelling an unpaid order first lets payments close a checkout still open at the
    provider, with no transaction open (as the shopper's cancel does); paid there first:
    PaymentInProgress, and the order is paid.
    """
    if to_status == S.CANCELLED:
        status = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
        if status == S.PENDING_PAYMENT:
            _order_closing_send(order, to_status=to_status)
    return order_transition(order=order, to_status=to_status, actor=actor, note=note)


def order_cancel_unpaid(*, order: Order, actor, by_guest: bool = False) -> Order:
    """Cancel an order that is still waiting for payment (its owner, a guest's link, or staff).

    Must be called with no transaction open: `order_closing` goes first, so a hosted
    checkout still open at the provider is closed before the order is (paid there first:
    PaymentInProgress, and the order is paid). The status is then checked under the row
    lock: an order paid a moment ago is not cancelled here (that is the staff transition,
    which refunds), nor one whose payment is in progress.
    """
    status = Order.objects.filter(pk=order.pk).values_list("status", flat=True).first()
    if status != S.PENDING_PAYMENT:
        raise InvalidTransition(status, S.CANCELLED, "Only unpaid orders can be cancelled here.")
    _order_closing_send(order, to_status=S.CANCELLED)
    with transaction.atomic():
        locked = order_lock(order_id=order.pk)
        if locked.status != S.PENDING_PAYMENT:
            raise InvalidTransition(
                locked.status, S.CANCELLED, "Only unpaid orders can be cancelled here."
            )
        by_owner = (actor is not None and locked.user_id == actor.pk) or (
            by_guest and locked.user_id is None
        )
        return order_transition(
            order=locked,
            to_status=S.CANCELLED,
            actor=actor,
            note="Cancelled by the customer." if by_owner else "Cancelled by staff.",
        )


def order_expire_unpaid(*, order: Order, now=None) -> Order | None:
    """Expire an unpaid order whose reservation time ran out; None when it did not expire.

    For an order a payment may still be taken for (a hosted checkout open at the provider):
    must be called with no transaction open. `order_closing` goes first (a receiver that
    raises refuses the expiry), then the reservations expire, which expires the order
    (`order_expire_for_reference`, in inventory's transaction).
    """
    now = now or _now()
    current = Order.objects.filter(pk=order.pk).only("status", "reservation_expires_at").first()
    if current is None or current.status != S.PENDING_PAYMENT:
        return None
    if current.reservation_expires_at is None or current.reservation_expires_at > now:
        return None
    _order_closing_send(order, to_status=S.EXPIRED)
    inventory_services.reservations_expire(reference=order.number, now=now)
    order.refresh_from_db()
    return order if order.status == S.EXPIRED else None


def order_expire_for_reference(*, reference: str) -> Order | None:
    """Expire the still-unpaid order whose reservations just expired; None when there is none.

    Runs inside inventory's expiry transaction, which already holds the reservation rows. A
    payment holds the order row and then waits for those rows, so waiting here for the order
    would deadlock: NOWAIT fails at once instead, the expiry rolls back and its next run
    finds the order paid.
    """
    order = (
        Order.objects.select_for_update(nowait=True)
        .filter(number=reference, status=S.PENDING_PAYMENT)
        .first()
    )
    if order is None:
        return None
    if order.payment_started_at is not None:
        # Money is moving for this order: the expiry rolls back and its next run decides.
        raise PaymentInProgress()
    try:
        return order_transition(
            order=order, to_status=S.EXPIRED, note="Payment was not received in time."
        )
    except InvalidTransition:  # paid or cancelled in the meantime
        return None


@transaction.atomic
def cart_merge_guest_into_user(*, guest_cart_id, user) -> int:
    """Merge the anonymous cart with that id into the user's cart; return lines moved."""
    guest = cart_get_for_guest(cart_id=guest_cart_id)
    if guest is None:
        return 0
    target = cart_get_or_create(user=user)
    return cart_merge(source=guest, target=target)


# ------------------------------------------------------------------------------
# Emails
# ------------------------------------------------------------------------------
def _queue_notification(event: OrderEvent) -> None:
    if event.to_status not in NOTIFIED_STATUSES:
        return
    task_enqueue("orders.tasks.order_event_notify", event.pk)


def order_event_notify(*, event_id: int) -> bool:
    """Email the shopper about one step of their order, once; return whether mail was sent."""
    event = (
        OrderEvent.objects.select_related("order")
        .filter(pk=event_id, notified_at__isnull=True, to_status__in=NOTIFIED_STATUSES)
        .first()
    )
    if event is None:
        return False
    order = event.order

    def build() -> EmailMessage:
        kind = "confirmation" if event.to_status == S.PENDING_PAYMENT else event.to_status
        context = {
            "order": order,
            "lines": list(order.lines.order_by("id")),
            "event": event,
            "shop_name": settings.SHOP_NAME,
            "order_url": (
                guest.guest_order_url(order=order)
                if order.is_guest
                else email_link("order", number=order.number)
            ),
        }
        subject = render_to_string(f"orders/email/{kind}_subject.txt", context).strip()
        body = render_to_string(f"orders/email/{kind}.txt", context)
        return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])

    return mail_send_once(
        key=f"orders.event:{event_id}",
        build=build,
        on_sent=lambda: OrderEvent.objects.filter(pk=event_id, notified_at__isnull=True).update(
            notified_at=_now()
        ),
    )
