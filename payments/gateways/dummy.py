"""The `dummy` gateway: a provider that lives in this process, for development and tests.

Two ways to pay, like a real provider:

- hosted checkout (no card in the request): the payment answers `pending` with a
  redirect URL to the dummy provider's own page (`/payments/dummy/checkout/<reference>/`),
  where the test cards are entered; the provider then sends its signed webhook and sends
  the shopper back to the shop's return (or cancel) URL;
- direct test cards (development and tests only): 4242424242424242 succeeds at once,
  4000000000000002 is declined, 4000000000003220 answers `pending` and settles later
  through a signed `payment.succeeded` webhook (task `payments.tasks.dummy_provider_settle`,
  or `manage.py dummy_webhook_send`), through the same path a provider's HTTP call takes.

The provider's side is kept in `DummyProviderRecord` (one row per idempotency key), so the
dummy honours idempotency keys and answers status lookups as a real provider does.
"""

import hashlib
import json
import re
import time
from collections.abc import Mapping
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse

from outbox.services import task_enqueue_in

from ..models import DummyProviderRecord
from ..signatures import signature_header_make
from .base import (
    FAILED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    PENDING,
    REFUND_SUCCEEDED,
    SUCCEEDED,
    ChargeResult,
    Gateway,
    RefundResult,
    ReturnUrls,
)

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_PENDING = "4000000000003220"
TEST_CARDS = {CARD_SUCCEEDS: SUCCEEDED, CARD_DECLINED: FAILED, CARD_PENDING: PENDING}
# Provider-side states: a hosted checkout waiting for the shopper is `open`.
OPEN = "open"
CARD_HELP = (
    "Use a test card: 4242 4242 4242 4242 (paid), 4000 0000 0000 0002 (declined) "
    "or 4000 0000 0000 3220 (pending)."
)


def card_clean(value) -> str:
    """Return the test card number without spaces or dashes; raise ValidationError otherwise."""
    card = re.sub(r"[\s-]", "", str(value or ""))
    if card not in TEST_CARDS:
        raise ValidationError({"card_number": [ValidationError(CARD_HELP, code="invalid_card")]})
    return card


def _reference(prefix: str, key: str) -> str:
    return f"{prefix}_{hashlib.sha256(key.encode()).hexdigest()[:32]}"


class DummyGateway(Gateway):
    """Options: SETTLE_DELAY_SECONDS (default 2) before a pending card's webhook is sent,
    AUTO_SETTLE (default True; False leaves pending cards to `dummy_webhook_send`)."""

    def details_clean(self, details: Mapping) -> dict:
        if not str(details.get("card_number") or "").strip():
            return {}  # hosted checkout: the card is entered on the provider's page
        return {"card_number": card_clean(details.get("card_number"))}

    def _record(self, **fields) -> tuple[DummyProviderRecord, bool]:
        key = fields.pop("key")
        try:
            with transaction.atomic():
                return DummyProviderRecord.objects.get_or_create(key=key, defaults=fields)
        except IntegrityError:  # the same key, concurrently: the provider answers the first
            return DummyProviderRecord.objects.get(key=key), False

    def charge(
        self,
        *,
        payment,
        details: Mapping,
        idempotency_key: str,
        return_urls: ReturnUrls | None = None,
    ) -> ChargeResult:
        card = details.get("card_number")
        status = TEST_CARDS[card] if card else OPEN
        record, created = self._record(
            key=idempotency_key,
            kind=DummyProviderRecord.Kind.PAYMENT,
            reference=_reference("dummy_pay", idempotency_key),
            status=status,
            amount=payment.amount,
            currency=payment.currency,
            failure_code="card_declined" if status == FAILED else "",
            success_url=return_urls.success_url if return_urls else "",
            cancel_url=return_urls.cancel_url if return_urls else "",
        )
        if created and status == PENDING and self.options.get("auto_settle", True):
            delay = int(self.options.get("settle_delay_seconds", 2))
            task_enqueue_in(delay, "payments.tasks.dummy_provider_settle", record.reference)
        return self._charge_result(record)

    def _charge_result(self, record: DummyProviderRecord) -> ChargeResult:
        if record.status == FAILED:
            message = (
                "The checkout was cancelled."
                if record.failure_code == "cancelled"
                else "The card was declined by the bank."
            )
            return ChargeResult(FAILED, record.reference, record.failure_code, message)
        if record.status == OPEN:
            url = settings.SITE_URL.rstrip("/") + reverse(
                "payments:dummy_checkout", args=[record.reference]
            )
            return ChargeResult(PENDING, record.reference, redirect_url=url)
        return ChargeResult(record.status, record.reference)

    def refund(self, *, payment, refund, idempotency_key: str) -> RefundResult:
        charged = DummyProviderRecord.objects.filter(
            kind=DummyProviderRecord.Kind.PAYMENT, reference=payment.gateway_reference
        ).first()
        refunded = sum(
            DummyProviderRecord.objects.filter(
                kind=DummyProviderRecord.Kind.REFUND,
                payment_reference=payment.gateway_reference,
                status=SUCCEEDED,
            )
            .exclude(key=idempotency_key)
            .values_list("amount", flat=True),
            Decimal("0.00"),
        )
        # Like a real provider: only money it took, never more than it took.
        refusable = charged is None or charged.status in (FAILED, OPEN)
        too_much = charged is not None and refunded + refund.amount > charged.amount
        record, _ = self._record(
            key=idempotency_key,
            kind=DummyProviderRecord.Kind.REFUND,
            reference=_reference("dummy_re", idempotency_key),
            status=FAILED if refusable or too_much else SUCCEEDED,
            amount=refund.amount,
            currency=payment.currency,
            payment_reference=payment.gateway_reference,
        )
        return RefundResult(record.status, record.reference)

    def payment_status(self, *, payment) -> ChargeResult | None:
        record = DummyProviderRecord.objects.filter(
            kind=DummyProviderRecord.Kind.PAYMENT, key=payment.provider_key
        ).first()
        return None if record is None else self._charge_result(record)

    def refund_status(self, *, payment, refund) -> RefundResult | None:
        record = DummyProviderRecord.objects.filter(
            kind=DummyProviderRecord.Kind.REFUND, key=refund.provider_key
        ).first()
        return None if record is None else RefundResult(record.status, record.reference)

    def checkout_close(self, *, payment) -> ChargeResult | None:
        # One conditional UPDATE: the shopper paying on the provider's page (checkout_pay)
        # moves the same row out of `open`, so exactly one of the two wins.
        DummyProviderRecord.objects.filter(
            kind=DummyProviderRecord.Kind.PAYMENT, key=payment.provider_key, status=OPEN
        ).update(status=FAILED, failure_code="cancelled")
        return self.payment_status(payment=payment)

    # -- what the provider would send --------------------------------------------------------
    def webhook_build(
        self, *, event_type: str, payment=None, refund=None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Return (raw body, headers) of the webhook the provider sends for this event.

        The event id is derived from the object and the type, as a provider redelivering
        the same event would keep it; sending twice therefore processes once.
        """
        if event_type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
            record = DummyProviderRecord.objects.filter(
                kind=DummyProviderRecord.Kind.PAYMENT, key=payment.provider_key
            ).first()
            if record is not None:
                return self.webhook_for_record(
                    event_type=event_type, record=record, timestamp=timestamp
                )
            subject = payment.gateway_reference
            data = {
                "payment": payment.gateway_reference,
                "amount": f"{payment.amount:.2f}",
                "currency": payment.currency,
            }
            if event_type == PAYMENT_FAILED:
                data["failure_code"] = "card_declined"
        elif event_type == REFUND_SUCCEEDED:
            subject = refund.gateway_reference
            data = {
                "refund": refund.gateway_reference,
                "payment": payment.gateway_reference,
                "amount": f"{refund.amount:.2f}",
                "currency": payment.currency,
            }
        else:
            raise ValueError(f"The dummy gateway does not send {event_type!r} events.")
        return self._signed(event_type, subject, data, timestamp)

    def webhook_for_record(
        self, *, event_type: str, record: DummyProviderRecord, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """The provider's event about one of its own charges."""
        data = {
            "payment": record.reference,
            "key": record.key,
            "amount": f"{record.amount:.2f}",
            "currency": record.currency,
        }
        if event_type == PAYMENT_FAILED:
            data["failure_code"] = record.failure_code or "card_declined"
        return self._signed(event_type, record.reference, data, timestamp)

    def _signed(self, event_type: str, subject: str, data: dict, timestamp: int | None):
        body = json.dumps(
            {
                "id": f"evt_{event_type.replace('.', '_')}_{subject}",
                "type": event_type,
                "created": int(time.time()),
                "data": {k: v for k, v in data.items() if v is not None},
            },
            separators=(",", ":"),
        ).encode()
        secret = self.webhook_secrets[0] if self.webhook_secrets else ""
        header = signature_header_make(secret=secret, body=body, timestamp=timestamp)
        return body, {"Content-Type": "application/json", "X-Signature": header}
