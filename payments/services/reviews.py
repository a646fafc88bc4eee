"""Staff decisions on payments held in `review` (fraud rules, or a webhook that did not match)."""

from django.db import transaction

from orders import services as orders_services

from ..errors import PaymentNotInReview
from ..models import FraudCheck, FraudDecision, GatewayStatus, Payment
from .charges import payment_capture, payment_settle_failed
from .common import FRAUD_REJECTED, P, lock_payment, now
from .notices import payment_review_alert_queue
from .refunds import refund_record


def _review_decide(payment: Payment, decision: str, actor) -> None:
    FraudCheck.objects.filter(payment=payment, decision=FraudDecision.REVIEW).update(
        decision=decision, reviewed_by=actor, reviewed_at=now()
    )


@transaction.atomic
def payment_review_approve(*, payment: Payment, actor=None) -> Payment:
    """Let a held payment through: the order is paid if the provider took the money.

    A payment held because a webhook did not match has no trusted settlement yet: it goes
    back to `pending`, and the provider's next event or the reconcile job settles it.
    """
    payment = lock_payment(payment.pk)
    if payment.status != P.REVIEW:
        raise PaymentNotInReview()
    _review_decide(payment, FraudDecision.APPROVED, actor)
    payment.review_reason = ""
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        payment_capture(payment, actor=actor, note=f"Payment {payment.pk} approved after review.")
    elif payment.gateway_status == GatewayStatus.FAILED:
        payment_settle_failed(payment, failure_code="declined")
    else:
        payment.status = P.PENDING  # the provider has not settled it yet; its webhook will
        payment.save()
    return payment


@transaction.atomic
def payment_review_reject(*, payment: Payment, actor=None) -> Payment:
    """Refuse a held payment; money already taken goes back (queued, in phases)."""
    payment = lock_payment(payment.pk)
    if payment.status != P.REVIEW:
        raise PaymentNotInReview()
    _review_decide(payment, FraudDecision.REJECTED, actor)
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        payment.status = P.SUCCEEDED
        payment.save()
        orders_services.order_payment_end(order_id=payment.order_id)  # it can close now
        refund_record(
            payment=payment,
            amount=payment.amount,
            reason="Rejected in review.",
            actor=actor,
            automatic=True,
            counts_for_order=False,
        )
    else:
        payment_settle_failed(payment, failure_code=FRAUD_REJECTED, message="Rejected in review.")
    return payment


def payment_hold_for_review(payment: Payment, *, reason: str) -> None:
    """Hold a locked payment for staff (a webhook did not match it); staff are alerted."""
    if payment.status in (P.PROCESSING, P.PENDING, P.REVIEW):
        payment.status = P.REVIEW
        payment.review_reason = reason[:255]
        payment.alerted_at = None
        payment.save()
        orders_services.order_payment_end(order_id=payment.order_id)
    payment_review_alert_queue(payment, reason=reason)
