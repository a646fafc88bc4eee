"""Refunds, in the same three phases as payments (lock order: see orders.locking).

1. One transaction: lock the order and the payment, check what is left, record the refund
   as `processing` under the client's Idempotency-Key (one refund per payment and key)
   with a provider key derived from the payment's provider key and that key, count it on
   the payment and the order (so concurrent refunds never exceed it and a fully refunded
   order never ships). The gateway call is queued after commit through the outbox.
2. A worker (`refund_execute`) calls the gateway with no transaction open.
3. A new transaction applies the answer. Only a refund the provider accepted (succeeded,
   or pending its confirmation) changes the order: a full refund before shipping ends it
   (refunded, goods back, reservations released), returned goods go back on the shelf. A
   refusal takes the refund off the payment and the order's refunded total again, leaves
   the order as it was, and staff are alerted. `refunds_reconcile` re-drives refunds a
   crash left `processing` (same key: the provider refunds once).
"""

import hashlib
import json
from collections.abc import Mapping
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import Sum

from orders import services as orders_services
from orders.models import Order, OrderStatus
from outbox.services import task_enqueue

from .. import selectors
from ..errors import (
    GatewayFailed,
    IdempotencyKeyReused,
    PaymentNotRefundable,
    RefundExceedsPayment,
    RestockNotPossible,
)
from ..gateways import gateway_get
from ..gateways.base import FAILED, SUCCEEDED, GatewayUnavailable, RefundResult
from ..models import CAPTURED_STATUSES, Payment, Refund, RefundStatus
from .common import ZERO, P, gateway_call, lock_payment, logger

# Orders whose goods left the warehouse; only those take goods back through a refund.
# (A paid or processing order puts its goods back when it is cancelled or fully refunded.)
RESTOCKABLE_ORDER_STATUSES = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)


def _restock_lines(order: Order, lines: Mapping[int, int] | None) -> dict[int, int]:
    """Return what goes back on the shelf: the given lines, or all that has not gone back yet."""
    if order.status not in RESTOCKABLE_ORDER_STATUSES:
        raise RestockNotPossible(
            f"The goods of a {order.get_status_display().lower()} order have not left the "
            "warehouse; cancel the order to put them back."
        )
    sold = selectors.order_sold_quantities(order=order)
    returned = selectors.order_restocked_quantities(order=order)
    left = {pid: qty - returned.get(pid, 0) for pid, qty in sold.items()}
    if lines is None:
        wanted = {pid: qty for pid, qty in left.items() if qty > 0}
        if not wanted:
            raise RestockNotPossible("Every item of this order is already back in stock.")
        return wanted
    wanted = {}
    for product_id, quantity in lines.items():
        if quantity < 1 or quantity > left.get(product_id, 0):
            raise RestockNotPossible(
                f"Product {product_id}: at most {max(left.get(product_id, 0), 0)} can go back."
            )
        wanted[product_id] = quantity
    if not wanted:
        raise RestockNotPossible("Name at least one line to put back in stock.")
    return wanted


def _payment_status_after(payment: Payment) -> str:
    if payment.refunded_amount <= ZERO:
        return P.SUCCEEDED
    return P.REFUNDED if payment.refunded_amount == payment.amount else P.PARTIALLY_REFUNDED


def refund_request_hash(
    *, amount: Decimal, reason: str, restock: bool = False, lines: Mapping[int, int] | None = None
) -> str:
    """Return a stable hash of what a refund request asks for (to tell a replay from a reuse)."""
    document = json.dumps(
        {
            "amount": f"{Decimal(amount):.2f}",
            "reason": reason,
            "restock": bool(restock),
            "lines": sorted((int(k), int(v)) for k, v in lines.items()) if lines else None,
        },
        sort_keys=True,
    )
    return hashlib.sha256(document.encode()).hexdigest()


def refund_provider_key_for(*, payment: Payment, idempotency_key: str) -> str:
    """Return the provider key of the refund asked for with this key on this payment."""
    base = payment.provider_key or f"{payment.gateway}-{payment.gateway_reference}"
    digest = hashlib.sha256(f"{base}\n{idempotency_key}".encode()).hexdigest()[:40]
    return f"{base}-re-{digest}"[:255]


def refund_record(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock_lines: Mapping[int, int] | None = None,
    actor=None,
    automatic: bool = False,
    counts_for_order: bool = True,
    idempotency_key: str = "",
    request_hash: str = "",
) -> Refund:
    """Phase 1 on a payment locked by the caller (after its order); queue the gateway call.

    Without a client key (automatic refunds, a staff cancel) the key is the payment's next
    refund number, read under the lock: a rollback undoes the row and nothing reached the
    provider yet, so the same number is used again.
    """
    if payment.status not in CAPTURED_STATUSES:
        raise PaymentNotRefundable()
    remaining = payment.amount - payment.refunded_amount
    if amount <= ZERO or amount > remaining:
        raise RefundExceedsPayment(remaining)
    if not idempotency_key:
        idempotency_key = f"system-{Refund.objects.filter(payment=payment).count() + 1}"
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason[:255],
        restock=bool(restock_lines),
        restocked_lines={str(pid): qty for pid, qty in (restock_lines or {}).items()},
        automatic=automatic,
        counts_for_order=counts_for_order,
        actor=actor if getattr(actor, "pk", None) else None,
        status=RefundStatus.PROCESSING,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
        provider_key=refund_provider_key_for(payment=payment, idempotency_key=idempotency_key),
    )
    payment.refunded_amount += amount
    payment.status = _payment_status_after(payment)
    payment.save(update_fields=["refunded_amount", "status", "updated_at"])
    if counts_for_order:
        # Counted at once (a fully refunded order never ships); the order's status and stock
        # follow only once the provider accepted the refund (refund_apply_result).
        orders_services.order_refund_record(order_id=payment.order_id, amount=amount)
    logger.info(
        "refund %s recorded: %s %s on payment %s of order %s (%s)%s",
        refund.pk,
        amount,
        payment.currency,
        payment.pk,
        payment.order.number,
        reason,
        f", restock {dict(restock_lines)} once accepted" if restock_lines else "",
    )
    task_enqueue("payments.tasks.refund_execute", refund.pk)
    return refund


def _replay(refund: Refund, request_hash: str) -> Refund:
    if refund.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return refund


def _refund_record_asked(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock: bool,
    lines: Mapping[int, int] | None,
    actor,
    idempotency_key: str = "",
    request_hash: str = "",
) -> Refund:
    """Phase 1 of a refund someone asked for, on a payment locked by the caller."""
    order = payment.order
    order.refresh_from_db(fields=["status"])
    return refund_record(
        payment=payment,
        amount=amount,
        reason=reason,
        restock_lines=_restock_lines(order, lines) if restock else {},
        actor=actor,
        idempotency_key=idempotency_key,
        request_hash=request_hash,
    )


def refund_create_once(
    *,
    payment: Payment,
    idempotency_key: str,
    amount: Decimal,
    reason: str,
    restock: bool = False,
    lines: Mapping[int, int] | None = None,
    actor=None,
) -> tuple[Refund, bool]:
    """Refund a payment once per client key; return (refund, created).

    The same key with the same request answers the first refund again (whatever its status
    now); with another request it is refused (IdempotencyKeyReused). See `refund_create`.
    """
    amount = Decimal(amount)
    request_hash = refund_request_hash(amount=amount, reason=reason, restock=restock, lines=lines)
    existing = Refund.objects.filter(payment=payment, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, request_hash), False
    try:
        with transaction.atomic():
            payment = lock_payment(payment.pk)
            # A concurrent request with this key held the lock first: answer its refund.
            existing = Refund.objects.filter(
                payment=payment, idempotency_key=idempotency_key
            ).first()
            if existing is not None:
                return _replay(existing, request_hash), False
            refund = _refund_record_asked(
                payment=payment,
                amount=amount,
                reason=reason,
                restock=restock,
                lines=lines,
                actor=actor,
                idempotency_key=idempotency_key,
                request_hash=request_hash,
            )
    except IntegrityError:
        # The unique (payment, key) constraint: the last line behind the payment lock.
        existing = Refund.objects.filter(payment=payment, idempotency_key=idempotency_key).first()
        if existing is None:
            raise
        return _replay(existing, request_hash), False
    refund.refresh_from_db()  # eager mode (no broker) already ran the gateway call
    return refund, True


def refund_create(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock: bool = False,
    lines: Mapping[int, int] | None = None,
    actor=None,
    idempotency_key: str = "",
) -> Refund:
    """Give money back on a payment, never more than is left; optionally restock the goods.

    Records the refund (phase 1) and queues the gateway call after commit; returns the
    Refund as it stands once this returns: `processing` while a worker has still to call
    the provider, then `succeeded`, `pending` (the provider confirms by webhook) or
    `failed` (refused; the refund is taken off the payment again and staff are alerted).
    Once the provider accepted it, the order follows: a refund of everything before
    shipping ends the order (refunded, goods back); after delivery the order becomes
    refunded or partially_refunded. Without a client key every call is a new refund.
    """
    if idempotency_key:
        refund, _ = refund_create_once(
            payment=payment,
            idempotency_key=idempotency_key,
            amount=amount,
            reason=reason,
            restock=restock,
            lines=lines,
            actor=actor,
        )
        return refund
    with transaction.atomic():
        refund = _refund_record_asked(
            payment=lock_payment(payment.pk),
            amount=Decimal(amount),
            reason=reason,
            restock=restock,
            lines=lines,
            actor=actor,
        )
    refund.refresh_from_db()  # eager mode (no broker) already ran the gateway call
    return refund


def order_payments_refund(
    *, order_id: int, actor=None, reason: str = "Order cancelled by staff."
) -> int:
    """Refund what is left of every payment of the order; return how many were refunded.

    Queued after commit when staff cancel a paid order (orders put the goods back). Safe
    to run twice: what was already refunded is not left to refund.
    """
    refunded = 0
    payment_ids = Payment.objects.filter(
        order_id=order_id, status__in=(P.SUCCEEDED, P.PARTIALLY_REFUNDED)
    ).values_list("pk", flat=True)
    for payment_id in sorted(payment_ids):
        with transaction.atomic():
            payment = lock_payment(payment_id)
            remaining = payment.refundable
            if remaining > ZERO:
                refund_record(
                    payment=payment,
                    amount=remaining,
                    reason=reason,
                    actor=actor,
                    counts_for_order=False,
                )
                refunded += 1
    return refunded


def refund_execute(*, refund_id: int) -> Refund | None:
    """Phases 2 and 3 of a recorded refund; safe to run twice (the key refunds once)."""
    refund = Refund.objects.select_related("payment").filter(pk=refund_id).first()
    if refund is None or refund.status != RefundStatus.PROCESSING:
        return refund
    payment = refund.payment
    gw = gateway_get(payment.gateway)
    try:
        result = gateway_call(
            gw.refund, payment=payment, refund=refund, idempotency_key=refund.provider_key
        )
    except GatewayUnavailable as exc:
        Refund.objects.filter(pk=refund.pk).update(
            attempts=refund.attempts + 1, failure_message=str(exc)[:255]
        )
        raise GatewayFailed("The payment provider could not be reached.") from exc
    return refund_apply_result(refund_id=refund.pk, result=result)


def refund_apply_result(*, refund_id: int, result: RefundResult) -> Refund:
    """Phase 3 of a refund: record the provider's answer; a refusal is taken back."""
    from .notices import staff_alert_queue

    payment_id = Refund.objects.filter(pk=refund_id).values_list("payment_id", flat=True).get()
    with transaction.atomic():
        payment = lock_payment(payment_id)
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status != RefundStatus.PROCESSING:
            return refund
        refund.gateway_reference = result.reference or refund.gateway_reference
        refund.attempts += 1
        if result.status == FAILED:
            refund.status = RefundStatus.FAILED
            refund.failure_message = "The payment provider refused the refund."
            refund.save()
            payment.refunded_amount -= refund.amount
            payment.status = _payment_status_after(payment)
            payment.save(update_fields=["refunded_amount", "status", "updated_at"])
            if refund.counts_for_order:
                # Nothing else changed on the order: its status and stock wait for acceptance.
                orders_services.order_refund_reverse(
                    order_id=payment.order_id, amount=refund.amount
                )
            logger.error(
                "refund %s of %s %s on payment %s refused by %s",
                refund.pk,
                refund.amount,
                payment.currency,
                payment.pk,
                payment.gateway,
            )
            staff_alert_queue(
                subject=f"Refund {refund.pk} refused by the payment provider",
                body=f"The refund of {refund.amount} {payment.currency} on payment "
                f"{payment.pk} (order {payment.order.number}) was refused by "
                f"{payment.gateway}. The order was left as it was. Refund it by hand or "
                "try again.",
            )
        else:
            refund_accept(
                payment,
                refund,
                status=RefundStatus.SUCCEEDED
                if result.status == SUCCEEDED
                else RefundStatus.PENDING,
            )
    return refund


def refund_accept(payment: Payment, refund: Refund, *, status: str) -> None:
    """The provider accepted a `processing` refund: record it and apply it to the order.

    The order, the payment and the refund must be locked by the caller, in that order.
    """
    from .notices import refund_notice_queue

    refund.status = status
    refund.save()
    if refund.counts_for_order:
        accepted = (
            Refund.objects.filter(
                payment__order_id=payment.order_id,
                counts_for_order=True,
                status__in=(RefundStatus.SUCCEEDED, RefundStatus.PENDING),
            ).aggregate(total=Sum("amount"))["total"]
            or ZERO
        )
        orders_services.order_refund_apply(
            order_id=payment.order_id,
            accepted_total=accepted,
            actor=refund.actor,
            note=f"Refunded {refund.amount} {payment.currency}: {refund.reason}"[:500],
            restock_lines={int(pid): int(qty) for pid, qty in refund.restocked_lines.items()},
        )
    refund_notice_queue(refund)
