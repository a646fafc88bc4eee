"""Guest orders: the signed link that opens one, and adopting them into an account."""

from datetime import timedelta

from django.conf import settings
from django.core import signing
from django.db import transaction

from .models import Order

SALT = "orders.guest-order"
# Orders a guest placed (or opened from a link) in this browser, by number.
GUEST_ORDERS_SESSION_KEY = "guest_orders"
GUEST_LINK_MAX_AGE = timedelta(days=180)


def guest_order_token(*, order: Order) -> str:
    """Return the token of the order's link: signed number and email (no expiry on its own)."""
    return signing.dumps({"n": order.number, "e": order.email.lower()}, salt=SALT, compress=True)


def guest_order_url(*, order: Order) -> str:
    return f"{settings.SITE_URL.rstrip('/')}/orders/guest/{guest_order_token(order=order)}/"


def guest_order_from_token(*, token: str) -> Order | None:
    """Return the guest order the token names, if its signature holds and it is still a guest's."""
    try:
        data = signing.loads(token, salt=SALT, max_age=GUEST_LINK_MAX_AGE)
    except signing.BadSignature:
        return None
    if not isinstance(data, dict):
        return None
    order = Order.objects.filter(number=str(data.get("n", ""))[:20], user__isnull=True).first()
    if order is None or order.email.lower() != str(data.get("e", "")):
        return None
    return order


def guest_orders_remember(*, session, order: Order) -> None:
    """Let this browser open the guest order without the link again."""
    numbers = [n for n in session.get(GUEST_ORDERS_SESSION_KEY, []) if n != order.number]
    session[GUEST_ORDERS_SESSION_KEY] = [order.number, *numbers][:20]


def guest_order_numbers(*, session) -> list[str]:
    numbers = session.get(GUEST_ORDERS_SESSION_KEY, [])
    return [str(n)[:20] for n in numbers] if isinstance(numbers, list) else []


@transaction.atomic
def guest_orders_adopt(*, user) -> int:
    """Move the guest orders placed with the user's (verified) email into the account."""
    if not getattr(user, "email_verified", False) or not user.email:
        return 0
    return Order.objects.filter(user__isnull=True, email__iexact=user.email).update(user=user)
