"""Starting a payment: money moves in three phases (lock order: see orders.locking).

1. One transaction: lock the order, refuse unless it can be paid, and record the payment
   as `processing` with a provider key derived from the order number and the client's
   Idempotency-Key (never from a row id a rollback could undo). At most one open payment
   per order (a partial unique constraint).
2. No transaction: ask the gateway, with that key (a retry asks for the same charge).
3. A new transaction: apply the answer; the order is paid through orders' services.

A crash between phases leaves a `processing` row; `reconcile.payments_reconcile` asks the
gateway about it later. A webhook may also settle it first: phase 3 then only records the
provider's reference.
"""

import hashlib
import json
from collections.abc import Mapping
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils.crypto import salted_hmac

from orders import services as orders_services
from orders.errors import InvalidTransition
from orders.errors import PaymentInProgress as OrdersPaymentInProgress
from orders.locking import order_lock
from orders.models import Order

from .. import selectors
from ..errors import GatewayFailed, IdempotencyKeyReused, PaymentInProgress
from ..fraud import FraudRules, fraud_assess
from ..gateways import gateway_get
from ..gateways.base import FAILED, PENDING, SUCCEEDED, ChargeResult, GatewayUnavailable, ReturnUrls
from ..models import (
    OPEN_STATUSES,
    FraudCheck,
    FraudDecision,
    GatewayStatus,
    Payment,
)
from .common import FRAUD_REJECTED, P, gateway_call, lock_payment, logger, now
from .notices import payment_review_alert_queue


def _request_hash(gateway: str, details: Mapping) -> str:
    document = json.dumps({"gateway": gateway, **details}, sort_keys=True)
    # Keyed, so a stored hash does not give away the card number it was made from.
    return salted_hmac("payments.payment_start", document, algorithm="sha256").hexdigest()


def provider_key_for(*, order: Order, idempotency_key: str) -> str:
    """Return the provider idempotency key of the payment the client asked for with this key."""
    digest = hashlib.sha256(f"{order.number}\n{idempotency_key}".encode()).hexdigest()[:40]
    return f"pay-{order.number}-{digest}"


def return_urls_for(*, order: Order, return_url: str = "", cancel_url: str = "") -> ReturnUrls:
    """Where a hosted checkout sends the shopper back: the client's URLs, or the settings'.

    PAYMENT_RETURN_URL / PAYMENT_CANCEL_URL may contain `{order}` (the order number); they
    default to the shop's own pages. SPA clients pass their own, from an allowed origin.
    """
    site = settings.SITE_URL.rstrip("/")
    default_return = settings.PAYMENT_RETURN_URL or f"{site}/orders/{{order}}/pay/return/"
    default_cancel = settings.PAYMENT_CANCEL_URL or f"{site}/orders/{{order}}/pay/cancelled/"
    return ReturnUrls(
        success_url=return_url or default_return.replace("{order}", order.number),
        cancel_url=cancel_url or default_cancel.replace("{order}", order.number),
    )


def return_url_allowed(url: str) -> bool:
    """Whether a client-given return URL points at the shop or an allowed SPA origin."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    origin = f"{parts.scheme}://{parts.netloc}"
    allowed = {urlsplit(settings.SITE_URL)._replace(path="", query="", fragment="").geturl()}
    allowed.update(o.rstrip("/") for o in settings.PAYMENT_RETURN_ORIGINS)
    return origin in allowed


def _replay(payment: Payment, request_hash: str) -> Payment:
    if payment.request_hash != request_hash:
        raise IdempotencyKeyReused()
    return payment


def _payment_record(
    *,
    order: Order,
    gateway: str,
    request_hash: str,
    idempotency_key: str,
    ip_address: str | None,
    urls: ReturnUrls,
) -> tuple[Payment, bool]:
    """Phase 1: lock the order, check it, record the payment as processing; (payment, created)."""
    with transaction.atomic():
        locked = order_lock(order_id=order.pk)
        # This key's payment (a replay) and the order's open one, in one read.
        known = list(
            Payment.objects.filter(
                Q(idempotency_key=idempotency_key) | Q(status__in=OPEN_STATUSES), order=order
            )
        )
        existing = next((p for p in known if p.idempotency_key == idempotency_key), None)
        if existing is not None:
            return _replay(existing, request_hash), False
        locked = orders_services.order_payment_begin(order_id=order.pk, locked=locked)
        open_payment = next((p for p in known if p.status in OPEN_STATUSES), None)
        if open_payment is not None:
            if (
                open_payment.status == P.PENDING
                and open_payment.redirect_url
                and open_payment.gateway == gateway
            ):
                # A hosted checkout is already open for this order: send the shopper there.
                transaction.set_rollback(True)
                return open_payment, False
            raise PaymentInProgress()
        signals = selectors.fraud_signals(
            order=locked, user=locked.user, ip_address=ip_address, now=now()
        )
        assessment = fraud_assess(signals=signals, rules=FraudRules.from_settings())
        try:
            with transaction.atomic():
                payment = Payment.objects.create(
                    order=locked,
                    amount=locked.total,
                    currency=locked.currency,
                    gateway=gateway,
                    status=P.PROCESSING,
                    idempotency_key=idempotency_key,
                    provider_key=provider_key_for(order=locked, idempotency_key=idempotency_key),
                    request_hash=request_hash,
                    risk_score=assessment.score,
                    ip_address=ip_address or None,
                    return_url=urls.success_url,
                    cancel_url=urls.cancel_url,
                )
        except IntegrityError as exc:  # the order row lock makes this a last line of defence
            raise PaymentInProgress() from exc
        FraudCheck.objects.create(
            payment=payment,
            score=assessment.score,
            rules_hit=[hit.as_dict() for hit in assessment.hits],
            decision=FraudDecision.REVIEW if assessment.review else FraudDecision.ALLOW,
        )
    return payment, True


def payment_start(
    *,
    order: Order,
    gateway: str,
    details: Mapping,
    idempotency_key: str,
    ip_address: str | None = None,
    return_url: str = "",
    cancel_url: str = "",
) -> tuple[Payment, bool]:
    """Pay the order's total through the gateway; return (payment, created).

    Without card details the gateway opens a hosted checkout: the payment is `pending`
    with a `redirect_url`. The same Idempotency-Key with the same body answers the first
    payment again (and finishes it if a crash left it processing); with another body it is
    refused. Another payment open on the order: PaymentInProgress. Fraud rules run in
    phase 1; a flagged payment that takes money waits in `review`, the order unpaid.
    Must be called with no transaction open.
    """
    gw = gateway_get(gateway)
    clean = gw.details_clean(details)
    urls = return_urls_for(order=order, return_url=return_url, cancel_url=cancel_url)
    request_hash = _request_hash(
        gw.name, {**clean, "return_url": return_url, "cancel_url": cancel_url}
    )
    existing = Payment.objects.filter(order=order, idempotency_key=idempotency_key).first()
    if existing is not None:
        payment, created = _replay(existing, request_hash), False
    else:
        payment, created = _payment_record(
            order=order,
            gateway=gw.name,
            request_hash=request_hash,
            idempotency_key=idempotency_key,
            ip_address=ip_address,
            urls=urls,
        )
    if payment.status != P.PROCESSING:
        return payment, created
    # Phase 2, with no transaction open; the provider dedups on the key from phase 1.
    try:
        result = gateway_call(
            gw.charge,
            payment=payment,
            details=clean,
            idempotency_key=payment.provider_key,
            return_urls=ReturnUrls(payment.return_url, payment.cancel_url),
        )
    except GatewayUnavailable as exc:
        logger.warning("payment %s: gateway %s unavailable: %s", payment.pk, gw.name, exc)
        raise GatewayFailed(
            "The payment provider could not be reached; nothing was charged twice. "
            "Try again with the same Idempotency-Key."
        ) from exc
    return payment_apply_result(payment_id=payment.pk, result=result), created


def payment_apply_result(
    *, payment_id: int, result: ChargeResult, from_statuses=(P.PROCESSING,), actor=None
) -> Payment:
    """Phase 3: apply what the provider answered, in a new transaction; return the payment.

    Only a payment still in `from_statuses` changes (a webhook may have settled it first;
    then only the provider's reference is recorded).
    """
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if result.reference and not payment.gateway_reference:
            payment.gateway_reference = result.reference
            payment.save(update_fields=["gateway_reference", "updated_at"])
        if payment.status not in from_statuses:
            return payment
        if result.status == SUCCEEDED:
            payment_settle_succeeded(payment, actor=actor, note=f"Paid by {payment.gateway}.")
        elif result.status == FAILED:
            payment_settle_failed(
                payment, failure_code=result.failure_code, message=result.failure_message
            )
        else:
            held = _review_pending(payment)
            payment.status = P.REVIEW if held else P.PENDING
            payment.review_reason = "Flagged by the fraud rules." if held else ""
            payment.gateway_status = GatewayStatus.PENDING
            payment.redirect_url = result.redirect_url or payment.redirect_url
            payment.save()
            if held:
                _review_alert(payment)
            # The provider may still take the money (a hosted checkout is open, a bank is
            # confirming): the order keeps its payment-in-progress mark, so it is neither
            # cancelled nor expired until `payment_checkouts_close` closed it at the provider.
    return payment


def _review_pending(payment: Payment) -> bool:
    return FraudCheck.objects.filter(payment=payment, decision=FraudDecision.REVIEW).exists()


def _review_alert(payment: Payment) -> None:
    """Tell staff that the fraud rules hold a payment (queued after commit)."""
    taken = payment.gateway_status == GatewayStatus.SUCCEEDED
    state = "the provider took the money" if taken else "the provider has not settled it yet"
    payment_review_alert_queue(payment, reason=f"{state}; {payment.review_reason}")


def payment_settle_succeeded(payment: Payment, *, actor=None, note: str = "") -> None:
    """The provider took the money: hold it for review, pay the order, or give it back.

    The order and the payment must be locked by the caller's transaction, in that order.
    """
    payment.gateway_status = GatewayStatus.SUCCEEDED
    payment.settled_at = payment.settled_at or now()
    if payment.status in (P.PROCESSING, P.PENDING) and _review_pending(payment):
        payment.status = P.REVIEW
        payment.review_reason = payment.review_reason or "Flagged by the fraud rules."
        payment.save()
        # The money is taken: the order stays marked as being paid (not cancelled, not
        # expired, its stock held) until staff approve (paid) or reject (money back).
        _review_alert(payment)
        return
    payment_capture(payment, actor=actor, note=note)


def payment_capture(payment: Payment, *, actor=None, note: str = "") -> None:
    """Record the money as taken: the order becomes paid, or the money goes straight back."""
    from .notices import payment_notice_queue
    from .refunds import refund_record

    rejected = payment.status == P.FAILED and payment.failure_code == FRAUD_REJECTED
    payment.status = P.SUCCEEDED
    payment.gateway_status = GatewayStatus.SUCCEEDED
    payment.settled_at = payment.settled_at or now()
    payment.failure_code = payment.failure_message = ""
    payment.save()
    reason = "it was rejected in fraud review" if rejected else ""
    if not reason:
        try:
            with transaction.atomic():
                orders_services.order_mark_paid(order_id=payment.order_id, actor=actor, note=note)
            payment_notice_queue(payment)
            return
        except InvalidTransition as exc:
            reason = str(exc).rstrip(".").lower()
    orders_services.order_payment_end(order_id=payment.order_id)
    logger.warning(
        "payment %s took %s %s for order %s but %s; refunding it automatically",
        payment.pk,
        payment.amount,
        payment.currency,
        payment.order.number,
        reason,
    )
    refund_record(
        payment=payment,
        amount=payment.amount - payment.refunded_amount,
        reason=f"Automatic refund: the payment succeeded but {reason}."[:255],
        automatic=True,
        counts_for_order=False,
    )


def payment_settle_failed(payment: Payment, *, failure_code: str = "", message: str = "") -> None:
    """The provider did not take the money; the order can be paid again."""
    from .notices import payment_notice_queue

    payment.status = P.FAILED
    payment.gateway_status = GatewayStatus.FAILED
    payment.failure_code = (failure_code or "failed")[:64]
    payment.failure_message = (message or "")[:255]
    payment.settled_at = payment.settled_at or now()
    payment.save()
    orders_services.order_payment_end(order_id=payment.order_id)
    if payment.failure_code != FRAUD_REJECTED:
        payment_notice_queue(payment)


def payment_abandon(*, payment: Payment) -> Payment:
    """The shopper came back from a hosted checkout without paying: close it at the provider.

    The provider's answer decides (it may have taken the money after all). Must be called
    with no transaction open.
    """
    if payment.status != P.PENDING:
        return payment
    gw = gateway_get(payment.gateway)
    try:
        result = gateway_call(gw.checkout_close, payment=payment)
    except GatewayUnavailable:
        logger.warning("payment %s: could not close its checkout; reconcile will", payment.pk)
        return payment
    if result is None or result.status == PENDING:
        return payment
    return payment_apply_result(
        payment_id=payment.pk, result=result, from_statuses=(P.PROCESSING, P.PENDING)
    )


def payment_checkouts_close(*, order_id: int) -> None:
    """Close the order's payments that may still take money at the provider, before the order
    is cancelled or expired; raise PaymentInProgress (orders') when one cannot be closed.

    Called (through orders' `order_closing` signal) with no transaction open. The provider
    decides: closed, the payment fails and the order may go; paid first, the payment is
    applied (the order is paid) and the cancel or expiry is refused; not closable (a bank
    confirming), it is refused too. Money is thus never taken after the order was closed.
    """
    open_payments = Payment.objects.filter(order_id=order_id, status__in=OPEN_STATUSES).exclude(
        gateway_status=GatewayStatus.SUCCEEDED
    )
    for payment in open_payments.order_by("pk"):
        if payment.status == P.PROCESSING:  # phase 2 is talking to the provider right now
            raise OrdersPaymentInProgress()
        gw = gateway_get(payment.gateway)
        try:
            result = gateway_call(gw.checkout_close, payment=payment)
        except GatewayUnavailable as exc:
            logger.warning("payment %s: could not close its checkout: %s", payment.pk, exc)
            raise OrdersPaymentInProgress(
                "The payment provider could not be reached to close the payment; try again."
            ) from exc
        status = result.status if result is not None else PENDING
        if status == PENDING:
            raise OrdersPaymentInProgress(
                "A payment for this order is waiting for its bank; try again later."
            )
        payment = _checkout_closed_apply(payment_id=payment.pk, result=result)
        if status == SUCCEEDED:
            logger.info("payment %s was paid before its order could be closed", payment.pk)
            raise OrdersPaymentInProgress("This order was paid a moment ago.")


def _checkout_closed_apply(*, payment_id: int, result: ChargeResult) -> Payment:
    """Phase 3 of a close: a pending payment settles; one held for review keeps its hold."""
    with transaction.atomic():
        payment = lock_payment(payment_id)
        if payment.status != P.REVIEW:
            return payment_apply_result(
                payment_id=payment_id, result=result, from_statuses=(P.PENDING,)
            )
        if result.reference and not payment.gateway_reference:
            payment.gateway_reference = result.reference
        if result.status == SUCCEEDED:  # staff decide on the money, as for its webhook
            payment.gateway_status = GatewayStatus.SUCCEEDED
            payment.save()
        else:
            payment_settle_failed(
                payment, failure_code=result.failure_code or "cancelled", message="Closed."
            )
        return payment
