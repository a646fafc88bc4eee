"""Cart writes: add, change, remove, merge and purge.

Lock order for carts: the cart row first, then its lines (see `_cart_lock`).
"""

from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from catalog.models import Product
from inventory import selectors as inventory_selectors

from ..errors import CartItemGone
from ..models import MAX_LINE_QUANTITY, Cart, CartItem
from ..selectors import cart_get_for_guest
from .base import _now


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


@transaction.atomic
def cart_merge_guest_into_user(*, guest_cart_id, user) -> int:
    """Merge the anonymous cart with that id into the user's cart; return lines moved."""
    guest = cart_get_for_guest(cart_id=guest_cart_id)
    if guest is None:
        return 0
    target = cart_get_or_create(user=user)
    return cart_merge(source=guest, target=target)
