"""The `dummy` gateway: deterministic test cards, and webhooks signed like a real provider's.

4242424242424242 succeeds at once, 4000000000000002 is declined, 4000000000003220 answers
`pending` and settles later through a signed `payment.succeeded` webhook, sent by the
`payments.tasks.dummy_payment_settle` task (or `manage.py dummy_webhook_send`) through the
same path a provider's HTTP call takes.
"""

import json
import re
import time
import uuid
from collections.abc import Mapping

from django.core.exceptions import ValidationError

from outbox.services import task_enqueue_in

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
)

CARD_SUCCEEDS = "4242424242424242"
CARD_DECLINED = "4000000000000002"
CARD_PENDING = "4000000000003220"
TEST_CARDS = {CARD_SUCCEEDS: SUCCEEDED, CARD_DECLINED: FAILED, CARD_PENDING: PENDING}


class DummyGateway(Gateway):
    """A provider that lives in this process.

    Options: SETTLE_DELAY_SECONDS (default 2) before a pending payment's webhook is sent,
    AUTO_SETTLE (default True; False leaves pending payments to `dummy_webhook_send`).
    """

    def details_clean(self, details: Mapping) -> dict:
        card = re.sub(r"[\s-]", "", str(details.get("card_number") or ""))
        if card not in TEST_CARDS:
            raise ValidationError(
                {
                    "card_number": [
                        ValidationError(
                            "Use a test card: 4242 4242 4242 4242 (paid), "
                            "4000 0000 0000 0002 (declined) or 4000 0000 0000 3220 (pending).",
                            code="invalid_card",
                        )
                    ]
                }
            )
        return {"card_number": card}

    def charge(self, *, payment, details: Mapping, idempotency_key: str) -> ChargeResult:
        outcome = TEST_CARDS[details["card_number"]]
        reference = f"dummy_pay_{uuid.uuid4().hex}"
        if outcome == FAILED:
            return ChargeResult(
                FAILED, reference, "card_declined", "The card was declined by the bank."
            )
        if outcome == PENDING and self.options.get("auto_settle", True):
            self._settle_later(payment.pk)
        return ChargeResult(outcome, reference)

    def refund(self, *, payment, refund, idempotency_key: str) -> RefundResult:
        return RefundResult(SUCCEEDED, f"dummy_re_{uuid.uuid4().hex}")

    def _settle_later(self, payment_id: int) -> None:
        delay = int(self.options.get("settle_delay_seconds", 2))
        task_enqueue_in(delay, "payments.tasks.dummy_payment_settle", payment_id)

    # -- what the provider would send --------------------------------------------------------
    def webhook_build(
        self, *, event_type: str, payment, refund=None, timestamp: int | None = None
    ) -> tuple[bytes, dict[str, str]]:
        """Return (raw body, headers) of the webhook the provider sends for this event.

        The event id is derived from the object and the type, as a provider redelivering
        the same event would keep it; sending twice therefore processes once.
        """
        if event_type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
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
            }
        else:
            raise ValueError(f"The dummy gateway does not send {event_type!r} events.")
        body = json.dumps(
            {
                "id": f"evt_{event_type.replace('.', '_')}_{subject}",
                "type": event_type,
                "created": int(time.time()),
                "data": data,
            },
            separators=(",", ":"),
        ).encode()
        secret = self.webhook_secrets[0] if self.webhook_secrets else ""
        header = signature_header_make(secret=secret, body=body, timestamp=timestamp)
        return body, {"Content-Type": "application/json", "X-Signature": header}
