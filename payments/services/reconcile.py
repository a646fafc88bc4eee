"""What a crash left half done, asked of the gateway; and the inbox purge (beat jobs)."""

from datetime import timedelta

from django.conf import settings
from django.db.models import Q

from ..gateways import gateway_get
from ..gateways.base import FAILED, PENDING, ChargeResult, GatewayUnavailable
from ..models import Payment, Refund, RefundStatus, WebhookEvent
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
