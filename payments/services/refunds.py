"""Refunds, in the same three phases as payments (lock order: see orders.locking).

1. One transaction: lock the order and the payment, check what is left, record the refund
   as `processing` with a provider key derived from the payment's key and a fresh client
   key, count it on the payment (so concurrent refunds never exceed it) and tell orders
   (a full refund before shipping ends the order; returned goods go back on the shelf).
   The gateway call is queued after commit through the outbox.
2. A worker (`refund_execute`) calls the gateway with no transaction open.
3. A new transaction applies the answer. A refusal by the provider takes the refund off
   the payment and the order again, and staff are alerted. `refunds_reconcile` re-drives
   refunds a crash left `processing` (same key: the provider refunds once).
"""

import uuid
from collections.abc import Mapping
from decimal import Decimal

from django.db import transaction

from orders import services as orders_services
from orders.models import Order, OrderStatus
from outbox.services import task_enqueue

from .. import selectors
from ..errors import GatewayFailed, PaymentNotRefundable, RefundExceedsPayment, RestockNotPossible
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


def refund_record(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock_lines: Mapping[int, int] | None = None,
    actor=None,
    automatic: bool = False,
    counts_for_order: bool = True,
) -> Refund:
    """Phase 1 on a payment locked by the caller (after its order); queue the gateway call."""
    if payment.status not in CAPTURED_STATUSES:
        raise PaymentNotRefundable()
    remaining = payment.amount - payment.refunded_amount
    if amount <= ZERO or amount > remaining:
        raise RefundExceedsPayment(remaining)
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
        provider_key=f"{payment.provider_key}-re-{uuid.uuid4().hex}",
    )
    payment.refunded_amount += amount
    payment.status = _payment_status_after(payment)
    payment.save(update_fields=["refunded_amount", "status", "updated_at"])
    if counts_for_order:
        orders_services.order_refund_record(
            order_id=payment.order_id,
            amount=amount,
            actor=actor,
            note=f"Refunded {amount} {payment.currency}: {reason}"[:500],
            restock_lines=restock_lines,
        )
    logger.info(
        "refund %s recorded: %s %s on payment %s of order %s (%s)%s",
        refund.pk,
        amount,
        payment.currency,
        payment.pk,
        payment.order.number,
        reason,
        f", restocked {dict(restock_lines)}" if restock_lines else "",
    )
    task_enqueue("payments.tasks.refund_execute", refund.pk)
    return refund


def refund_create(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock: bool = False,
    lines: Mapping[int, int] | None = None,
    actor=None,
) -> Refund:
    """Give money back on a payment, never more than is left; optionally restock the goods.

    Records the refund (phase 1) and queues the gateway call after commit; returns the
    Refund as it stands once this returns: `processing` while a worker has still to call
    the provider, then `succeeded`, `pending` (the provider confirms by webhook) or
    `failed` (refused; the refund is taken off the payment again and staff are alerted).
    The payment's refunded amount and the order follow at once: a refund of everything
    before shipping ends the order (refunded, goods back); after delivery the order becomes
    refunded or partially_refunded.
    """
    with transaction.atomic():
        payment = lock_payment(payment.pk)
        order = payment.order
        order.refresh_from_db(fields=["status"])
        restocked = _restock_lines(order, lines) if restock else {}
        refund = refund_record(
            payment=payment,
            amount=Decimal(amount),
            reason=reason,
            restock_lines=restocked,
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
    from .notices import refund_notice_queue, staff_alert_queue

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
            payment.refunded_amount -= refund.amount
            payment.status = _payment_status_after(payment)
            payment.save(update_fields=["refunded_amount", "status", "updated_at"])
            if refund.counts_for_order:
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
                f"{payment.gateway}. Refund it by hand or try again.",
            )
        else:
            refund.status = (
                RefundStatus.SUCCEEDED if result.status == SUCCEEDED else RefundStatus.PENDING
            )
            refund_notice_queue(refund)
        refund.save()
    return refund
