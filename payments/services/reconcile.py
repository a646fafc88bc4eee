"""What a crash left half done, asked of the gateway; and the inbox purge (beat jobs)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from orders import services as orders_services
from orders.errors import OrdersError
from orders.models import Order, OrderStatus

from ..gateways import gateway_get
from ..gateways.base import FAILED, PENDING, ChargeResult, GatewayUnavailable
from ..models import OPEN_STATUSES, GatewayStatus, Payment, Refund, RefundStatus, WebhookEvent
from .charges import payment_apply_result
from .common import P, gateway_call, logger, now
from .refunds import refund_apply_result, refund_execute


def payment_reconcile(*, payment: Payment) -> Payment:
    """Ask the gateway about one payment left `processing` (or `pending`) and apply the answer.

    A `processing` payment the provider never heard of was never charged (phase 2 did not
    reach it): it fails, and the order can be paid again.
    """
    gw = gateway_get(payment.gateway)
    result = gateway_call(gw.payment_status, payment=payment)
    if result is None:
        if payment.status != P.PROCESSING:
            return payment
        result = ChargeResult(FAILED, "", "not_reached", "The payment never reached the provider.")
    if result.status == PENDING and payment.status == P.PENDING:
        return payment
    return payment_apply_result(
        payment_id=payment.pk, result=result, from_statuses=(P.PROCESSING, P.PENDING)
    )


def payments_reconcile(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Reconcile payments left `processing` (a crash between phases) or long `pending`."""
    older_than = older_than or timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    cutoff = now() - older_than
    pending_cutoff = now() - timedelta(seconds=settings.PAYMENT_PENDING_CHECK_AFTER_SECONDS)
    stale = Payment.objects.filter(
        Q(status=P.PROCESSING, updated_at__lt=cutoff)
        | Q(status=P.PENDING, updated_at__lt=pending_cutoff)
    ).order_by("pk")[:500]
    counts = {"checked": 0, "changed": 0, "failed": 0}
    for payment in stale:
        counts["checked"] += 1
        before = payment.status
        try:
            after = payment_reconcile(payment=payment).status
        except (GatewayUnavailable, Exception):
            logger.exception("reconcile: payment %s could not be checked", payment.pk)
            counts["failed"] += 1
            continue
        if after != before:
            counts["changed"] += 1
            logger.info("reconcile: payment %s %s -> %s", payment.pk, before, after)
    return counts


def orders_expire_with_open_checkouts() -> dict[str, int]:
    """Expire unpaid orders past their reservation time whose checkout is still open.

    Inventory's expiry job cannot expire them (money may still be taken, and it runs inside
    a transaction): orders' `order_expire_unpaid` closes the checkout at the provider
    first (its `order_closing` signal), then expires the order. Paid at the provider
    meanwhile: the payment is applied instead.
    """
    order_ids = (
        Payment.objects.filter(
            status__in=OPEN_STATUSES,
            order__status=OrderStatus.PENDING_PAYMENT,
            order__reservation_expires_at__lte=now(),
        )
        .exclude(gateway_status=GatewayStatus.SUCCEEDED)
        .exclude(status=P.PROCESSING)
        .values_list("order_id", flat=True)
        .distinct()[:500]
    )
    counts = {"expired": 0, "refused": 0, "failed": 0}
    for order in Order.objects.filter(pk__in=list(order_ids)).order_by("pk"):
        try:
            expired = orders_services.order_expire_unpaid(order=order)
        except OrdersError as exc:  # paid meanwhile, or a bank still confirming
            logger.info("reconcile: order %s not expired: %s", order.number, exc)
            counts["refused"] += 1
        except Exception:
            logger.exception("reconcile: order %s could not be expired", order.number)
            counts["failed"] += 1
        else:
            counts["expired" if expired is not None else "refused"] += 1
    return counts


def refunds_reconcile(*, older_than: timedelta | None = None) -> dict[str, int]:
    """Finish refunds left `processing`: ask the gateway, or call it again with the same key."""
    older_than = older_than or timedelta(seconds=settings.PAYMENT_RECONCILE_AFTER_SECONDS)
    stale = Refund.objects.filter(
        status=RefundStatus.PROCESSING, updated_at__lt=now() - older_than
    ).select_related("payment")[:500]
    counts = {"checked": 0, "changed": 0, "failed": 0}
    for refund in stale:
        counts["checked"] += 1
        try:
            gw = gateway_get(refund.payment.gateway)
            result = gateway_call(gw.refund_status, payment=refund.payment, refund=refund)
            if result is None:
                after = refund_execute(refund_id=refund.pk)
            else:
                after = refund_apply_result(refund_id=refund.pk, result=result)
        except Exception:
            logger.exception("reconcile: refund %s could not be finished", refund.pk)
            counts["failed"] += 1
            continue
        if after is not None and after.status != RefundStatus.PROCESSING:
            counts["changed"] += 1
    return counts


def webhook_events_purge(*, retention_days: int | None = None) -> int:
    """Delete processed and refused inbox rows older than the retention; return how many."""
    days = settings.WEBHOOK_RETENTION_DAYS if retention_days is None else retention_days
    cutoff = now() - timedelta(days=days)
    deleted, _ = WebhookEvent.objects.filter(
        Q(signature_valid=False, received_at__lt=cutoff) | Q(processed_at__lt=cutoff)
    ).delete()
    if deleted:
        logger.info("webhook inbox: purged %s rows older than %s days", deleted, days)
    return deleted
