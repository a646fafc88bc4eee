"""Webhooks: verified, stored in the inbox and acknowledged; processed after, once, by a worker.

Receiving does the least that makes a delivery safe to acknowledge: verify the signature
over the raw body, parse it, insert the inbox row (one per gateway and event id). A worker
then drains the inbox (`webhooks_drain`); each event is applied in its own transaction
with the event row locked and `processed_at` set with its effects, so redeliveries,
concurrent drains and task retries apply it exactly once. Lock order: the event row, then
orders.locking's order (order, payment, stock).

A settling event must match its payment: amount, currency and gateway. One that does not
is not applied: the payment goes to review with the reason, staff are alerted, it is logged.
"""

from collections.abc import Mapping
from datetime import timedelta

from django.core.cache import cache
from django.db import IntegrityError, InterfaceError, OperationalError, connection, transaction
from django.db.models import F

from outbox.services import task_enqueue

from .. import selectors
from ..errors import InvalidSignature, MalformedWebhook, UnknownGateway, WebhookTargetMissing
from ..gateways import gateway_get
from ..gateways.base import PAYMENT_FAILED, PAYMENT_SUCCEEDED, REFUND_SUCCEEDED, WebhookMessage
from ..models import (
    CAPTURED_STATUSES,
    REFUSED_BODY_MAX,
    GatewayStatus,
    Payment,
    Refund,
    RefundStatus,
    WebhookEvent,
)
from ..signals import webhook_stored
from .charges import payment_settle_failed, payment_settle_succeeded
from .common import P, lock_payment, logger, now
from .refunds import refund_accept
from .reviews import payment_hold_for_review

WEBHOOK_MAX_ATTEMPTS = 8
DRAIN_QUEUED_KEY = "payments:webhooks:drain-queued"
DRAIN_QUEUED_TIMEOUT = 30  # a lost drain task is replaced after this many seconds
DRAIN_BATCH = 100


def _printable(text: str) -> str:
    return text.replace("\x00", "\ufffd")


def _webhook_refuse(*, gateway: str, body: bytes, headers: Mapping[str, str], exc) -> None:
    """Log a refused request and keep its metadata (at most 1 KB of body), never processed."""
    logger.warning(
        "webhook refused: gateway=%r code=%s reason=%s bytes=%d",
        gateway[:32],
        getattr(exc, "code", "error"),
        exc,
        len(body),
    )
    signature = headers.get("x-signature") or headers.get("stripe-signature") or ""
    WebhookEvent.objects.create(
        gateway=_printable(gateway[:32]),
        raw_body=_printable(body[:REFUSED_BODY_MAX].decode("utf-8", "replace"))[:REFUSED_BODY_MAX],
        signature_header=_printable(str(signature)[:256]),
        signature_valid=False,
        error=f"{getattr(exc, 'code', 'error')}: {exc} ({len(body)} bytes)"[:500],
    )


def _drain_soon() -> None:
    """Make sure a drain runs after this delivery, without one task per delivery.

    The drain clears the flag before it reads the inbox, and a delivery sets it only after
    its row is committed, so every stored event is either seen by a running drain or
    queues a new one.
    """
    try:
        first = cache.add(DRAIN_QUEUED_KEY, 1, timeout=DRAIN_QUEUED_TIMEOUT)
    except Exception as exc:  # the cache (Redis) is down: queue a drain without the flag
        logger.warning("webhook drain flag unavailable (%s); queueing a drain anyway", exc)
        first = True
    if first:
        # Through the outbox: a broker that is down leaves the message to the sweep.
        task_enqueue("payments.tasks.webhooks_drain")


def webhook_receive(
    *, gateway: str, body: bytes, headers: Mapping[str, str], record_refusal=None
) -> tuple[WebhookEvent, bool]:
    """Verify a provider's request and store it in the inbox; return (event, created).

    Processing happens after, in a worker. A refused request raises (400) and changes
    nothing but the record of the refusal (only logged when `record_refusal()` says no:
    the caller's rate for refusals is spent).
    """
    headers = {str(k).lower(): str(v) for k, v in headers.items()}
    try:
        gw = gateway_get(gateway)
        gw.webhook_verify(body=body, headers=headers)
        message = gw.webhook_parse(body=body)
    except (UnknownGateway, InvalidSignature, MalformedWebhook) as exc:
        if record_refusal is None or record_refusal():
            _webhook_refuse(gateway=gateway, body=body, headers=headers, exc=exc)
        else:
            logger.warning("webhook refused and not stored (rate): gateway=%r", gateway[:32])
        raise
    event, created = _inbox_insert(
        gateway=gw.name,
        message=message,
        body=body.decode("utf-8"),
        signature=headers.get(gw.signature_header, "")[:1024],
    )
    if created:
        webhook_stored.send(sender=WebhookEvent, gateway=event.gateway, event_id=event.event_id)
    if created or (event.pk and event.processed_at is None):
        # Robust: the delivery is stored, so it is acknowledged even when no drain can be
        # queued now; the beat job (webhook_process_pending) processes what was left.
        transaction.on_commit(_drain_soon, robust=True)
    return event, created


_INSERT_ONCE = """
    INSERT INTO {table} (gateway, event_id, type, raw_body, signature_header,
                         signature_valid, received_at, attempts, error)
    VALUES (%s, %s, %s, %s, %s, TRUE, %s, 0, '')
    ON CONFLICT (gateway, event_id) WHERE signature_valid DO NOTHING
    RETURNING id
"""


def _execute_once(sql: str, params: list):
    """Run one autocommit statement and return (its first row, whether it was retried).

    The webhook route does not health-check its reused connection before the write
    (config.handlers): if that connection died since its last request (a database restart,
    a dropped socket), the statement is run again once on a fresh connection. Inside a
    transaction nothing is retried: the caller's transaction is gone with the connection.
    """
    retry = connection.get_autocommit() and not connection.in_atomic_block
    try:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone(), False
    except (OperationalError, InterfaceError):
        if not retry:
            raise
        logger.warning("webhook inbox: the database connection was lost; trying again")
        connection.close()
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone(), True


def _inbox_insert(
    *, gateway: str, message: WebhookMessage, body: str, signature: str
) -> tuple[WebhookEvent, bool]:
    """Store a verified event once per (gateway, event id); return (event, created).

    On PostgreSQL one statement does it (a redelivery costs no error and no second query:
    its first delivery already queued the processing). Elsewhere, the ORM and the unique
    constraint.
    """
    fields = {
        "gateway": gateway,
        "event_id": message.event_id,
        "type": message.type,
        "raw_body": body,
        "signature_header": signature,
        "signature_valid": True,
    }
    if connection.vendor == "postgresql":
        sql = _INSERT_ONCE.format(table=connection.ops.quote_name(WebhookEvent._meta.db_table))
        params = [gateway, message.event_id, message.type, body, signature, now()]
        row, retried = _execute_once(sql, params)
        if row is not None:
            return WebhookEvent(pk=row[0], **fields), True
        if retried:
            # The first attempt may have been stored before its connection died: an
            # unprocessed row is handed to the caller so that a drain is queued for it.
            stored = WebhookEvent.objects.filter(
                gateway=gateway, event_id=message.event_id, signature_valid=True
            ).first()
            if stored is not None:
                return stored, False
        return WebhookEvent(**fields), False
    try:
        with transaction.atomic():
            return WebhookEvent.objects.create(**fields), True
    except IntegrityError:  # delivered before: one row per (gateway, event id)
        return WebhookEvent.objects.get(
            gateway=gateway, event_id=message.event_id, signature_valid=True
        ), False


def _payment_for(gw, message: WebhookMessage) -> int | None:
    payments = Payment.objects.all()
    if message.payment_reference:
        found = (
            payments.filter(gateway_reference=message.payment_reference)
            .values_list("pk", flat=True)
            .first()
        )
        if found is not None:
            return found
    if message.payment_key:
        return (
            payments.filter(provider_key=message.payment_key).values_list("pk", flat=True).first()
        )
    return None


def _mismatch(gw, message: WebhookMessage, payment: Payment) -> str:
    """Return why the event does not match the payment it names, or ""."""
    if payment.gateway != gw.name:
        return f"the event came from {gw.name}, the payment is with {payment.gateway}"
    if message.type == PAYMENT_SUCCEEDED or message.amount is not None:
        if message.amount is None:
            return "the event carries no amount"
        if message.amount != payment.amount:
            return f"the event's amount {message.amount} is not the payment's {payment.amount}"
    wants_currency = message.type == PAYMENT_SUCCEEDED or message.currency
    if wants_currency and message.currency.upper() != payment.currency.upper():
        return (
            f"the event's currency {message.currency or '(none)'} is not the payment's "
            f"{payment.currency}"
        )
    return ""


def _apply_payment_event(gw, message: WebhookMessage) -> str:
    payment_id = _payment_for(gw, message)
    if payment_id is None:
        raise WebhookTargetMissing(
            f"No payment with reference {message.payment_reference or message.payment_key!r}."
        )
    payment = lock_payment(payment_id)
    reason = _mismatch(gw, message, payment)
    if reason:
        logger.error(
            "webhook %s %s does not match payment %s: %s; held for review",
            gw.name,
            message.event_id,
            payment.pk,
            reason,
        )
        payment_hold_for_review(payment, reason=f"Webhook {message.event_id}: {reason}.")
        return f"mismatch: {reason}"
    if message.payment_reference and not payment.gateway_reference:
        payment.gateway_reference = message.payment_reference
    if message.type == PAYMENT_SUCCEEDED:
        if payment.status in CAPTURED_STATUSES:
            return "already succeeded"
        if payment.status == P.REVIEW:
            payment.gateway_status = GatewayStatus.SUCCEEDED
            payment.save(update_fields=["gateway_status", "gateway_reference", "updated_at"])
            return "settled, still in review"
        payment_settle_succeeded(payment, note=f"Payment {payment.pk} confirmed by {gw.name}.")
        return "captured"
    if payment.gateway_status == GatewayStatus.SUCCEEDED:
        # The provider took the money (it told us so before, or staff hold it in review):
        # a failure arriving after that is late and changes nothing.
        logger.warning(
            "webhook %s %s: payment %s failed after the provider took the money; ignored",
            gw.name,
            message.event_id,
            payment.pk,
        )
        return f"ignored: the provider took the money already (payment is {payment.status})"
    if payment.status in (P.PROCESSING, P.PENDING, P.REVIEW):
        payment_settle_failed(payment, failure_code=message.failure_code or "declined")
        return "failed"
    return f"ignored: payment is already {payment.status}"


def _refund_mismatch(message: WebhookMessage, payment: Payment, refund: Refund) -> str:
    """Return why a refund event does not match the refund it names, or ""."""
    if message.amount is not None and message.amount != refund.amount:
        return f"the event's amount {message.amount} is not the refund's {refund.amount}"
    if message.currency and message.currency.upper() != payment.currency.upper():
        return f"the event's currency {message.currency} is not the payment's {payment.currency}"
    return ""


def _apply_refund_event(gw, message: WebhookMessage) -> str:
    found = (
        Refund.objects.filter(payment__gateway=gw.name, gateway_reference=message.refund_reference)
        .values_list("pk", "payment_id")
        .first()
        if message.refund_reference
        else None
    )
    if found is None:
        raise WebhookTargetMissing(f"No refund with reference {message.refund_reference!r}.")
    payment = lock_payment(found[1])  # the order, then the payment, then its refund
    refund = Refund.objects.select_for_update().get(pk=found[0])
    reason = _refund_mismatch(message, payment, refund)
    if reason:
        # Not applied: the refund stays as it is until the provider's own answer (the
        # reconcile job asks it) or staff settle it.
        from .notices import staff_alert_queue

        logger.error(
            "webhook %s %s does not match refund %s: %s; not applied",
            gw.name,
            message.event_id,
            refund.pk,
            reason,
        )
        staff_alert_queue(
            subject=f"Refund {refund.pk} needs a look",
            body=f"Webhook {message.event_id} for refund {refund.pk} of payment {payment.pk} "
            f"(order {payment.order.number}) was not applied: {reason}.",
        )
        return f"mismatch: {reason}"
    if refund.status == RefundStatus.PROCESSING:  # confirmed before phase 3 answered
        refund_accept(payment, refund, status=RefundStatus.SUCCEEDED)
        return "refund confirmed"
    if refund.status == RefundStatus.PENDING:  # accepted, applied to the order already
        refund.status = RefundStatus.SUCCEEDED
        refund.save(update_fields=["status", "updated_at"])
        return "refund confirmed"
    return "refund already final"


def _webhook_apply(gw, message: WebhookMessage) -> str:
    """Apply one verified message; return a note for the log. Late events change nothing."""
    if message.type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
        return _apply_payment_event(gw, message)
    if message.type == REFUND_SUCCEEDED:
        return _apply_refund_event(gw, message)
    return f"ignored: type {message.type!r} is not used"


def webhook_process(*, event_id: int, skip_locked: bool = False) -> bool:
    """Apply a stored event once; return False when it was already processed (or refused).

    The event row is locked and `processed_at` is set in the same transaction as the
    effects, so concurrent drains and task retries apply it exactly once.
    """
    try:
        with transaction.atomic():
            event = (
                WebhookEvent.objects.select_for_update(skip_locked=skip_locked)
                .filter(pk=event_id, signature_valid=True)
                .first()
            )
            if event is None or event.processed_at is not None:
                return False
            gw = gateway_get(event.gateway)
            note = _webhook_apply(gw, gw.webhook_parse(body=event.raw_body.encode("utf-8")))
            event.processed_at = now()
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


def webhooks_drain(*, limit: int = 10_000) -> dict[str, int]:
    """Process every stored, unprocessed event (a worker runs this); return the counts.

    Events another drain holds are skipped; an event that fails is left for the retry
    sweep (with its error recorded) and not tried again in this run.
    """
    cache.delete(DRAIN_QUEUED_KEY)
    counts = {"processed": 0, "skipped": 0, "failed": 0}
    tried: set[int] = set()
    while len(tried) < limit:
        ids = [
            pk
            for pk in WebhookEvent.objects.filter(
                signature_valid=True,
                processed_at__isnull=True,
                attempts__lt=WEBHOOK_MAX_ATTEMPTS,
            )
            .exclude(pk__in=tried)
            .order_by("pk")
            .values_list("pk", flat=True)[:DRAIN_BATCH]
        ]
        if not ids:
            break
        for event_id in ids:
            tried.add(event_id)
            try:
                done = webhook_process(event_id=event_id, skip_locked=True)
            except Exception:
                logger.exception("webhook event %s failed to process", event_id)
                counts["failed"] += 1
            else:
                counts["processed" if done else "skipped"] += 1
    return counts


def webhook_process_pending(*, older_than: timedelta = timedelta(minutes=1)) -> dict[str, int]:
    """Retry inbox events that are stored but not processed (a lost task, a failed attempt)."""
    ids = selectors.webhook_event_ids_unprocessed(
        received_before=now() - older_than, max_attempts=WEBHOOK_MAX_ATTEMPTS
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
