"""What payments asks of orders: begin and end a payment, mark paid, count and apply refunds.

Each runs in the caller's (payments') transaction and takes the order row first
(orders.locking): payments never locks an order or moves stock itself.
"""

from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction

from inventory import services as inventory_services

from ..errors import InvalidTransition
from ..locking import order_lock
from ..models import Order
from .base import S, _now
from .lifecycle import REFUND_TRANSITIONS, _order_move


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
