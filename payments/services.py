"""Writes to payments: starting payments, webhooks, refunds and fraud reviews.

Lock order, everywhere: webhook event -> order -> payment -> stock (inventory's services).
"""

import json
import logging
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac

from inventory import services as inventory_services
from orders import services as orders_services
from orders.errors import InvalidTransition
from orders.models import Order, OrderStatus
from outbox.services import task_enqueue

from . import selectors
from .errors import (
    GatewayFailed,
    IdempotencyKeyReused,
    InvalidSignature,
    MalformedWebhook,
    OrderNotPayable,
    PaymentNotInReview,
    PaymentNotRefundable,
    RefundExceedsPayment,
    RestockNotPossible,
    UnknownGateway,
    WebhookTargetMissing,
)
from .fraud import FraudRules, fraud_assess
from .gateways import gateway_get
from .gateways.base import (
    FAILED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    REFUND_SUCCEEDED,
    SUCCEEDED,
    WebhookMessage,
)
from .models import (
    CAPTURED_STATUSES,
    FraudCheck,
    FraudDecision,
    GatewayStatus,
    Payment,
    PaymentStatus,
    Refund,
    RefundStatus,
    WebhookEvent,
)

logger = logging.getLogger(__name__)

P = PaymentStatus
ZERO = Decimal("0.00")
# Orders whose goods left the warehouse; only those take goods back through a refund.
# (A paid or processing order puts its goods back when staff cancel it, in orders.)
RESTOCKABLE_ORDER_STATUSES = frozenset(
    {
        OrderStatus.SHIPPED,
        OrderStatus.DELIVERED,
        OrderStatus.PARTIALLY_REFUNDED,
        OrderStatus.REFUNDED,
    }
)
# Orders whose status follows their refunds (the transition table allows it from there).
REFUND_TRACKING_ORDER_STATUSES = frozenset({OrderStatus.DELIVERED, OrderStatus.PARTIALLY_REFUNDED})
WEBHOOK_MAX_ATTEMPTS = 8
MAX_STORED_BODY = 65536


def _now() -> datetime:
    return timezone.now()


# ------------------------------------------------------------------------------
# Starting a payment
# ------------------------------------------------------------------------------
def _request_hash(gateway: str, details: Mapping) -> str:
    document = json.dumps({"gateway": gateway, **details}, sort_keys=True)
    # Keyed, so a stored hash does not give away the card number it was made from.
    return salted_hmac("payments.payment_start", document, algorithm="sha256").hexdigest()


def _replay(payment: Payment, request_hash: str) -> tuple[Payment, bool]:
    if payment.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return payment, False


def order_unpayable_reason(*, order: Order, now: datetime | None = None) -> str:
    """Return why the order cannot take a payment now, or "" when it can."""
    now = now or _now()
    if order.status != OrderStatus.PENDING_PAYMENT:
        return f"the order is {order.get_status_display().lower()}"
    if order.reservation_expires_at is not None and order.reservation_expires_at <= now:
        return "the order's reservation time has run out"
    return ""


def payment_start(
    *,
    order: Order,
    gateway: str,
    details: Mapping,
    idempotency_key: str,
    ip_address: str | None = None,
) -> tuple[Payment, bool]:
    """Pay the order's total through the gateway; return (payment, created).

    The same Idempotency-Key with the same body answers the first payment again; with
    another body it is refused. Fraud rules run first; a flagged payment is charged but
    waits in `review`, and the order stays unpaid until staff approve it.
    """
    gw = gateway_get(gateway)
    clean = gw.details_clean(details)
    request_hash = _request_hash(gw.name, clean)
    existing = Payment.objects.filter(order=order, idempotency_key=idempotency_key).first()
    if existing is not None:
        return _replay(existing, request_hash)

    with transaction.atomic():
        order.refresh_from_db(fields=["status", "reservation_expires_at", "total", "currency"])
        now = _now()
        reason = order_unpayable_reason(order=order, now=now)
        if reason:
            raise OrderNotPayable(f"This order cannot be paid: {reason}.")
        signals = selectors.fraud_signals(
            order=order, user=order.user, ip_address=ip_address, now=now
        )
        assessment = fraud_assess(signals=signals, rules=FraudRules.from_settings())
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    order=order,
                    amount=order.total,
                    currency=order.currency,
                    gateway=gw.name,
                    idempotency_key=idempotency_key,
                    request_hash=request_hash,
                    risk_score=assessment.score,
                    ip_address=ip_address or None,
                )
        except IntegrityError:  # the same key, concurrently: answer with the winner
            existing = Payment.objects.get(order=order, idempotency_key=idempotency_key)
            return _replay(existing, request_hash)
        FraudCheck.objects.create(
            payment=payment,
            score=assessment.score,
            rules_hit=[hit.as_dict() for hit in assessment.hits],
            decision=FraudDecision.REVIEW if assessment.review else FraudDecision.ALLOW,
        )
        result = gw.charge(payment=payment, details=clean, idempotency_key=f"payment-{payment.pk}")
        payment.gateway_reference = result.reference
        payment.gateway_status = result.status
        if result.status == FAILED:
            payment.status = P.FAILED
            payment.failure_code = result.failure_code[:64]
            payment.failure_message = result.failure_message[:255]
            payment.settled_at = now
        elif assessment.review:
            payment.status = P.REVIEW
            logger.warning(
                "payment %s of order %s held for fraud review (score %s: %s)",
                payment.pk,
                order.number,
                assessment.score,
                ", ".join(hit.rule for hit in assessment.hits),
            )
        payment.save()
        if result.status == SUCCEEDED and not assessment.review:
            _payment_capture(payment, note=f"Paid by card ({gw.name} payment {payment.pk}).")
    return payment, True


FRAUD_REJECTED = "fraud_rejected"


def _payment_capture(payment: Payment, *, actor=None, note: str = "") -> None:
    """Record the money as taken: the order becomes paid, or the money goes straight back.

    The payment row must be locked (or just made) by the caller's transaction.
    """
    now = _now()
    rejected = payment.status == P.FAILED and payment.failure_code == FRAUD_REJECTED
    payment.status = P.SUCCEEDED
    payment.gateway_status = GatewayStatus.SUCCEEDED
    payment.settled_at = payment.settled_at or now
    payment.failure_code = payment.failure_message = ""
    payment.save()
    order = payment.order
    order.refresh_from_db(fields=["status", "reservation_expires_at"])
    if rejected:
        reason = "it was rejected in fraud review"
    else:
        reason = order_unpayable_reason(order=order, now=now)
    if not reason:
        try:
            with transaction.atomic():
                orders_services.order_transition(
                    order=order, to_status=OrderStatus.PAID, actor=actor, note=note
                )
            return
        except InvalidTransition as exc:  # the order moved on between our read and the lock
            order.refresh_from_db(fields=["status", "reservation_expires_at"])
            reason = order_unpayable_reason(order=order, now=now) or str(exc)
    logger.warning(
        "payment %s took %s %s for order %s but %s; refunding it automatically",
        payment.pk,
        payment.amount,
        payment.currency,
        order.number,
        reason,
    )
    _refund_make(
        payment=payment,
        amount=payment.amount - payment.refunded_amount,
        reason=f"Automatic refund: the payment succeeded but {reason}."[:255],
        automatic=True,
        update_order=False,
    )


def _payment_fail(payment: Payment, *, failure_code: str = "", message: str = "") -> None:
    payment.status = P.FAILED
    payment.gateway_status = GatewayStatus.FAILED
    payment.failure_code = (failure_code or "failed")[:64]
    payment.failure_message = message[:255]
    payment.settled_at = payment.settled_at or _now()
    payment.save()


# ------------------------------------------------------------------------------
# Fraud review
# ------------------------------------------------------------------------------
def _lock_payment(payment_id: int) -> Payment:
    """Lock the payment's order, then the payment (the lock order of order_transition's callers).

    Staff cancelling a paid order lock the order first and refund in the same transaction;
    taking the order first here too means the two queue up instead of deadlocking.
    """
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).get()
    list(Order.objects.select_for_update().filter(pk=order_id).values_list("pk", flat=True))
    return (
        Payment.objects.select_for_update(of=("self",)).select_related("order").get(pk=payment_id)
    )


def _review_decide(payment: Payment, decision: str, actor) -> None:
    FraudCheck.objects.filter(payment=payment, decision=FraudDecision.REVIEW).update(
        decision=decision, reviewed_by=actor, reviewed_at=_now()
    )


@transaction.atomic
def payment_review_approve(*, payment: Payment, actor=None) -> Payment:
    """Let a payment held by the fraud rules through: the order is paid if it still can be."""
    payment = _lock_payment(payment.pk)
    if payment.status != P.REVIEW:
        raise PaymentNotInReview()
    _review_decide(payment, FraudDecision.APPROVED, actor)
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        _payment_capture(payment, actor=actor, note=f"Payment {payment.pk} approved after review.")
    elif payment.gateway_status == GatewayStatus.FAILED:
        _payment_fail(payment, failure_code="declined")
    else:
        payment.status = P.PENDING  # the provider has not settled it yet; its webhook will
        payment.save()
    return payment


@transaction.atomic
def payment_review_reject(*, payment: Payment, actor=None) -> Payment:
    """Refuse a payment held by the fraud rules; money already taken goes back."""
    payment = _lock_payment(payment.pk)
    if payment.status != P.REVIEW:
        raise PaymentNotInReview()
    _review_decide(payment, FraudDecision.REJECTED, actor)
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        payment.status = P.SUCCEEDED
        payment.save()
        _refund_make(
            payment=payment,
            amount=payment.amount,
            reason="Rejected in fraud review.",
            actor=actor,
            automatic=True,
            update_order=False,
        )
    else:
        _payment_fail(payment, failure_code=FRAUD_REJECTED, message="Rejected in fraud review.")
    return payment


# ------------------------------------------------------------------------------
# Refunds
# ------------------------------------------------------------------------------
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


def _refund_make(
    *,
    payment: Payment,
    amount: Decimal,
    reason: str,
    restock: bool = False,
    lines: Mapping[int, int] | None = None,
    actor=None,
    automatic: bool = False,
    update_order: bool = True,
) -> Refund:
    """Refund a locked payment; the caller's transaction holds the payment row."""
    if payment.status not in CAPTURED_STATUSES:
        raise PaymentNotRefundable()
    remaining = payment.amount - payment.refunded_amount
    if amount <= ZERO or amount > remaining:
        raise RefundExceedsPayment(remaining)
    order = payment.order
    order.refresh_from_db(fields=["status"])
    restocked = _restock_lines(order, lines) if restock else {}
    refund = Refund.objects.create(
        payment=payment,
        amount=amount,
        reason=reason[:255],
        restock=bool(restocked),
        restocked_lines={str(pid): qty for pid, qty in restocked.items()},
        automatic=automatic,
        actor=actor if getattr(actor, "pk", None) else None,
    )
    result = gateway_get(payment.gateway).refund(
        payment=payment, refund=refund, idempotency_key=f"refund-{refund.pk}"
    )
    if result.status == FAILED:
        raise GatewayFailed("The payment provider refused the refund; nothing was changed.")
    refund.gateway_reference = result.reference
    refund.status = RefundStatus.SUCCEEDED if result.status == SUCCEEDED else RefundStatus.PENDING
    refund.save(update_fields=["gateway_reference", "status", "updated_at"])
    payment.refunded_amount += amount
    fully = payment.refunded_amount == payment.amount
    payment.status = P.REFUNDED if fully else P.PARTIALLY_REFUNDED
    payment.save(update_fields=["refunded_amount", "status", "updated_at"])
    if restocked:
        inventory_services.stock_return(lines=restocked, reference=order.number, actor=actor)
    logger.info(
        "refund %s: %s %s on payment %s of order %s (%s)%s",
        refund.pk,
        amount,
        payment.currency,
        payment.pk,
        order.number,
        reason,
        f", restocked {restocked}" if restocked else "",
    )
    if update_order and order.status in REFUND_TRACKING_ORDER_STATUSES:
        left = selectors.order_refundable_total(order=order)
        orders_services.order_transition(
            order=order,
            to_status=OrderStatus.PARTIALLY_REFUNDED if left > ZERO else OrderStatus.REFUNDED,
            actor=actor,
            note=f"Refunded {amount} {payment.currency}: {reason}"[:500],
        )
    return refund


@transaction.atomic
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

    A delivered (or partially refunded) order becomes refunded or partially_refunded.
    """
    payment = _lock_payment(payment.pk)
    return _refund_make(
        payment=payment,
        amount=Decimal(amount),
        reason=reason,
        restock=restock,
        lines=lines,
        actor=actor,
    )


@transaction.atomic
def order_payments_refund(*, order: Order, actor=None, reason: str = "Order cancelled.") -> int:
    """Refund what is left of every payment of the order; return how many were refunded.

    Called when staff cancel a paid order; orders puts the goods back itself.
    """
    refunded = 0
    payment_ids = Payment.objects.filter(
        order=order, status__in=(P.SUCCEEDED, P.PARTIALLY_REFUNDED)
    ).values_list("pk", flat=True)
    for payment_id in sorted(payment_ids):
        payment = _lock_payment(payment_id)
        remaining = payment.refundable
        if remaining > ZERO:
            _refund_make(
                payment=payment,
                amount=remaining,
                reason=reason,
                actor=actor,
                update_order=False,
            )
            refunded += 1
    return refunded


# ------------------------------------------------------------------------------
# Webhooks
# ------------------------------------------------------------------------------
def _printable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _webhook_refuse(*, gateway: str, body: bytes, headers: Mapping[str, str], exc) -> None:
    """Log a refused webhook request and keep it in the inbox, never to be processed."""
    logger.warning(
        "webhook refused: gateway=%r code=%s reason=%s bytes=%d",
        gateway[:32],
        getattr(exc, "code", "error"),
        exc,
        len(body),
    )
    WebhookEvent.objects.create(
        gateway=_printable(gateway[:32]),
        raw_body=_printable(body[:MAX_STORED_BODY].decode("utf-8", "replace")),
        signature_header=_printable(str(headers.get("x-signature", ""))[:1024]),
        signature_valid=False,
        error=f"{getattr(exc, 'code', 'error')}: {exc}"[:2000],
    )


def _webhook_queue(event_id: int) -> None:
    task_enqueue("payments.tasks.webhook_process", event_id)


def webhook_receive(
    *, gateway: str, body: bytes, headers: Mapping[str, str]
) -> tuple[WebhookEvent, bool]:
    """Verify a provider's request and store it in the inbox; return (event, created).

    Processing is queued after commit. A refused request raises (400) and changes nothing
    but the record of the refusal.
    """
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        gw = gateway_get(gateway)
        gw.webhook_verify(body=body, headers=headers)
        message = gw.webhook_parse(body=body)
    except (UnknownGateway, InvalidSignature, MalformedWebhook) as exc:
        _webhook_refuse(gateway=gateway, body=body, headers=headers, exc=exc)
        raise
    try:
        with transaction.atomic():
            event = WebhookEvent.objects.create(
                gateway=gw.name,
                event_id=message.event_id,
                type=message.type,
                raw_body=body.decode("utf-8"),
                signature_header=headers.get(gw.signature_header, "")[:1024],
                signature_valid=True,
            )
        created = True
    except IntegrityError:  # delivered before: one row per (gateway, event id)
        event = WebhookEvent.objects.get(
            gateway=gw.name, event_id=message.event_id, signature_valid=True
        )
        created = False
    if event.processed_at is None:
        _webhook_queue(event.pk)
    return event, created


def _webhook_apply(gw, message: WebhookMessage) -> str:
    """Apply one verified message; return a note for the log. Late events change nothing."""
    if message.type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
        payment_id = (
            Payment.objects.filter(gateway=gw.name, gateway_reference=message.payment_reference)
            .values_list("pk", flat=True)
            .first()
            if message.payment_reference
            else None
        )
        if payment_id is None:
            raise WebhookTargetMissing(f"No payment with reference {message.payment_reference!r}.")
        payment = _lock_payment(payment_id)
        if message.type == PAYMENT_SUCCEEDED:
            if payment.status in CAPTURED_STATUSES:
                return "already succeeded"
            if payment.status == P.REVIEW:
                payment.gateway_status = GatewayStatus.SUCCEEDED
                payment.save(update_fields=["gateway_status", "updated_at"])
                return "settled, still in review"
            _payment_capture(payment, note=f"Payment {payment.pk} confirmed by {gw.name}.")
            return "captured"
        if payment.status in (P.PENDING, P.REVIEW):
            _payment_fail(payment, failure_code=message.failure_code or "declined")
            return "failed"
        return f"ignored: payment is already {payment.status}"
    if message.type == REFUND_SUCCEEDED:
        refund = (
            Refund.objects.select_for_update()
            .filter(payment__gateway=gw.name, gateway_reference=message.refund_reference)
            .first()
            if message.refund_reference
            else None
        )
        if refund is None:
            raise WebhookTargetMissing(f"No refund with reference {message.refund_reference!r}.")
        if refund.status == RefundStatus.PENDING:
            refund.status = RefundStatus.SUCCEEDED
            refund.save(update_fields=["status", "updated_at"])
            return "refund confirmed"
        return "refund already final"
    return f"ignored: type {message.type!r} is not used"


def webhook_process(*, event_id: int) -> bool:
    """Apply a stored event once; return False when it was already processed (or refused).

    The event row is locked and `processed_at` is set in the same transaction as the
    effects, so concurrent deliveries and task retries apply it exactly once.
    """
    try:
        with transaction.atomic():
            event = (
                WebhookEvent.objects.select_for_update()
                .filter(pk=event_id, signature_valid=True)
                .first()
            )
            if event is None or event.processed_at is not None:
                return False
            gw = gateway_get(event.gateway)
            note = _webhook_apply(gw, gw.webhook_parse(body=event.raw_body.encode("utf-8")))
            event.processed_at = _now()
            event.attempts += 1
            event.error = ""
            event.save(update_fields=["processed_at", "attempts", "error"])
    except Exception as exc:
        WebhookEvent.objects.filter(pk=event_id, processed_at__isnull=True).update(
            attempts=F("attempts") + 1, error=f"{type(exc).__name__}: {exc}"[:2000]
        )
        raise
    logger.info("webhook %s %s %s processed: %s", event.gateway, event.type, event.event_id, note)
    return True


def webhook_process_pending(*, older_than: timedelta = timedelta(minutes=1)) -> dict[str, int]:
    """Retry inbox events that are stored but not processed (a lost task, a failed attempt)."""
    ids = selectors.webhook_event_ids_unprocessed(
        received_before=_now() - older_than, max_attempts=WEBHOOK_MAX_ATTEMPTS
    )
    return webhook_events_reprocess(event_ids=ids)


def webhook_events_reprocess(*, event_ids) -> dict[str, int]:
    """Process these inbox events now, each in its own transaction; processed ones are skipped."""
    counts = {"processed": 0, "skipped": 0, "failed": 0}
    for event_id in event_ids:
        try:
            counts["processed" if webhook_process(event_id=event_id) else "skipped"] += 1
        except Exception:
            logger.exception("webhook event %s failed to process", event_id)
            counts["failed"] += 1
    return counts


def webhook_simulate(*, payment: Payment, event_type: str, refund: Refund | None = None):
    """Send the webhook the payment's provider would send, through the real receiving path."""
    gw = gateway_get(payment.gateway)
    build = getattr(gw, "webhook_build", None)
    if build is None:
        raise ValueError(f"The {payment.gateway} gateway cannot simulate webhooks.")
    body, headers = build(event_type=event_type, payment=payment, refund=refund)
    return webhook_receive(gateway=payment.gateway, body=body, headers=headers)
