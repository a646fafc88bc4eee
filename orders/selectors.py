"""Reads of carts and orders, with the joins and prefetches each page needs."""

from django.db.models import Prefetch, QuerySet, Sum

from .models import Address, Cart, CartItem, Order, OrderEvent, OrderLine

# Where a guest's cart id lives in the Django session.
GUEST_CART_SESSION_KEY = "cart_id"


def cart_items(*, cart: Cart | None) -> list[CartItem]:
    """Return the cart's items with products and `line_total`, oldest first ([] without a cart)."""
    if cart is None or cart.pk is None:
        return []
    return _with_line_totals(cart.items.all())


def cart_items_for_visitor(*, user=None, cart_id=None) -> list[CartItem]:
    """Return the user's (or the guest cart's) items as cart_items does, in one query."""
    if user is not None and user.is_authenticated:
        items = CartItem.objects.filter(cart__user=user)
    else:
        try:
            items = CartItem.objects.filter(cart_id=int(cart_id), cart__user__isnull=True)
        except (TypeError, ValueError):
            return []
    return _with_line_totals(items)


def _with_line_totals(items: QuerySet[CartItem]) -> list[CartItem]:
    items = list(items.select_related("product").order_by("added_at", "id"))
    for item in items:
        item.line_total = item.product.price * item.quantity
    return items


def cart_get_for_user(*, user) -> Cart | None:
    return Cart.objects.filter(user=user).first()


def cart_get_for_guest(*, cart_id) -> Cart | None:
    """Return the anonymous cart with that id, if it still exists and belongs to nobody."""
    try:
        cart_id = int(cart_id)
    except (TypeError, ValueError):
        return None
    return Cart.objects.filter(pk=cart_id, user__isnull=True).first()


def cart_item_get(*, cart: Cart | None, item_id) -> CartItem | None:
    if cart is None:
        return None
    try:
        item_id = int(item_id)
    except (TypeError, ValueError):
        return None
    return cart.items.select_related("product").filter(pk=item_id).first()


def order_list(*, user=None, status: str | None = None) -> QuerySet[Order]:
    """Orders newest first with `item_count` (units ordered); `user=None` means every order."""
    queryset = Order.objects.annotate(item_count=Sum("lines__quantity")).order_by(
        "-placed_at", "-id"
    )
    if user is not None:
        queryset = queryset.filter(user=user)
    if status:
        queryset = queryset.filter(status=status)
    return queryset


def order_detail_queryset() -> QuerySet[Order]:
    """Orders with user, shipping method, lines, events (with actors) and payments."""
    queryset = Order.objects.select_related("user", "shipping_method").prefetch_related(
        Prefetch("lines", queryset=OrderLine.objects.order_by("id")),
        Prefetch(
            "events", queryset=OrderEvent.objects.select_related("actor").order_by("at", "id")
        ),
    )
    if hasattr(Order, "payments"):
        payments = Order.payments.field.model.objects.order_by("created_at", "id")
        queryset = queryset.prefetch_related(Prefetch("payments", queryset=payments))
    return queryset


def _prefetched(instance, name: str, objects: list) -> None:
    """Give `instance.<name>.all()` these objects without a query (as prefetch_related does)."""
    queryset = getattr(instance, name).all()  # lazy: filtered by the instance, not run
    queryset._result_cache = list(objects)
    queryset._prefetch_done = True
    instance.__dict__.setdefault("_prefetched_objects_cache", {})[name] = queryset


def order_detail_from_checkout(order: Order) -> Order:
    """The order just placed by `services.order_checkout`, ready for OrderDetailSerializer.

    Its lines and event come from the objects checkout wrote (no re-read); a new order has
    no payments yet.
    """
    _prefetched(order, "lines", order.checkout_lines)
    _prefetched(order, "events", order.checkout_events)
    if hasattr(Order, "payments"):
        _prefetched(order, "payments", [])
    return order


def sees_every_order(user) -> bool:
    """Staff holding orders.view_order see (and list) every order; others only their own."""
    return bool(
        user is not None
        and user.is_authenticated
        and user.is_staff
        and user.has_perm("orders.view_order")
    )


def order_get_for_user(*, number: str, user) -> Order | None:
    """Return the order with that number if the user may see it (see sees_every_order)."""
    if user is None or not user.is_authenticated:
        return None
    queryset = order_detail_queryset().filter(number=str(number)[:20])
    if not sees_every_order(user):
        queryset = queryset.filter(user=user)
    return queryset.first()


def order_get_owned(*, number: str, user) -> Order | None:
    """Return the user's own order with that number: the row alone, nothing prefetched."""
    if user is None or not user.is_authenticated:
        return None
    return Order.objects.filter(number=str(number)[:20], user=user).first()


def order_exists(*, number: str) -> bool:
    return Order.objects.filter(number=str(number)[:20]).exists()


def order_payments(*, order: Order) -> list:
    """Return the order's payments (prefetched), or [] while payments has no model."""
    if not hasattr(Order, "payments"):
        return []
    return list(order.payments.all())


def address_list(*, user) -> list:
    """Return the user's addresses, the default first ([] for a visitor)."""
    if user is None or not user.is_authenticated:
        return []
    return list(Address.objects.filter(user=user).order_by("-is_default", "-created_at", "-id"))


def address_get(*, user, address_id) -> Address | None:
    try:
        address_id = int(address_id)
    except (TypeError, ValueError):
        return None
    return Address.objects.filter(user=user, pk=address_id).first()


def order_get_for_guest(*, number: str, numbers) -> Order | None:
    """Return the guest order with that number if this browser may open it."""
    number = str(number)[:20]
    if number not in numbers:
        return None
    return order_detail_queryset().filter(number=number, user__isnull=True).first()


def cart_unit_count(*, user=None, cart_id=None) -> int:
    """Return how many units the user's (or the guest's) cart holds."""
    items = CartItem.objects.all()
    if user is not None:
        items = items.filter(cart__user=user)
    else:
        try:
            items = items.filter(cart_id=int(cart_id), cart__user__isnull=True)
        except (TypeError, ValueError):
            return 0
    return items.aggregate(units=Sum("quantity"))["units"] or 0


def order_get_for_payer(*, number: str, user, guest_numbers) -> Order | None:
    """Return the order if this visitor placed it: the user's own, or a guest order of theirs."""
    if user is not None and user.is_authenticated:
        order = order_detail_queryset().filter(number=str(number)[:20], user=user).first()
        if order is not None:
            return order
    return order_get_for_guest(number=number, numbers=guest_numbers)
