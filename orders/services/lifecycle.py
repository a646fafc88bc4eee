"""The order lifecycle: the transition table, each step's stock side effects and events.

Lock order: see orders.locking (the order row, then payments, then stock rows by id).
"""

from django.db import transaction

from accounts.permissions import PermissionMissing
from inventory import services as inventory_services

from ..errors import InvalidTransition, PaymentInProgress
from ..locking import order_lock
from ..models import Order, OrderEvent
from ..signals import order_closing, order_refund_requested
from .base import S, _in_transaction, _now
from .notifications import _queue_notification

# The one transition table: status -> the statuses it may move to. Refunded and partially
# refunded are not in it: only money going back moves an order there (REFUND_TRANSITIONS,
# applied by payments), never a status set by hand.
TRANSITIONS: dict[str, frozenset[str]] = {
    S.PENDING_PAYMENT: frozenset({S.PAID, S.CANCELLED, S.EXPIRED}),
    S.PAID: frozenset({S.PROCESSING, S.CANCELLED}),
    S.PROCESSING: frozenset({S.SHIPPED, S.CANCELLED}),
    S.SHIPPED: frozenset({S.DELIVERED}),
}


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
# Cancelling from these gives the money back: staff need the refund permission for it.
REFUNDING_CANCELS = frozenset({S.PAID, S.PROCESSING})
REFUND_PERMISSION = "payments.refund_payment"
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
def order_transition(
    *, order: Order, to_status: str, actor=None, note: str = "", may_refund: bool = True
) -> Order:
    """Move the order along the transition table, with its stock side effects and an event.

    -> paid commits the reservations; pending_payment -> cancelled/expired releases them
    (refused while a payment is in progress); paid|processing -> cancelled puts the goods
    back on the shelf and asks payments to refund (refused unless `may_refund`). A fully
    refunded order never moves to processing or shipped.
    """
    locked = order_lock(order_id=order.pk)
    if to_status not in S.values or not transition_allowed(
        from_status=locked.status, to_status=to_status
    ):
        raise InvalidTransition(locked.status, to_status)
    if to_status == S.CANCELLED and locked.status in REFUNDING_CANCELS and not may_refund:
        raise PermissionMissing(
            "Cancelling a paid order refunds it, which needs the permission to refund payments."
        )
    _order_move(locked, to_status=to_status, actor=actor, note=note)
    # Callers keep using the instance they passed in.
    order.status, order.paid_at, order.updated_at = locked.status, locked.paid_at, locked.updated_at
    return locked


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
    return order_transition(
        order=order,
        to_status=to_status,
        actor=actor,
        note=note,
        may_refund=bool(actor and actor.has_perm(REFUND_PERMISSION)),
    )


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
