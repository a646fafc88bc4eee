"""The interface every payment provider implements.

A provider starts payments (`charge`: at once with a card in development, or a hosted
checkout the shopper is redirected to), refunds them (`refund`), answers what became of a
payment or refund we lost track of (`payment_status`, `refund_status`; the reconcile job
asks) and reads its own webhooks (`webhook_verify`, `webhook_parse`). Every call carries
the idempotency key recorded in phase 1, and the provider must honour it. Webhook messages
are normalised into `WebhookMessage` with our event types, so the rest of payments (and
orders) never sees provider details.
"""

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation

from ..errors import InvalidSignature, MalformedWebhook
from ..signatures import signature_verify

# Event types the shop understands; a provider maps its own names onto these.
PAYMENT_SUCCEEDED = "payment.succeeded"
PAYMENT_FAILED = "payment.failed"
REFUND_SUCCEEDED = "refund.succeeded"
EVENT_TYPES = (PAYMENT_SUCCEEDED, PAYMENT_FAILED, REFUND_SUCCEEDED)

SUCCEEDED, PENDING, FAILED = "succeeded", "pending", "failed"

_EVENT_ID = re.compile(r"^[A-Za-z0-9_.:\-]{1,255}$")
_TYPE = re.compile(r"^[a-z][a-z0-9_.]{0,99}$")
_REFERENCE = re.compile(r"^[A-Za-z0-9_.:\-]{1,100}$")


@dataclass(frozen=True)
class ChargeResult:
    status: str  # SUCCEEDED, PENDING (settles by webhook) or FAILED
    reference: str
    failure_code: str = ""
    failure_message: str = ""
    redirect_url: str = ""  # hosted checkout: where the shopper pays


@dataclass(frozen=True)
class ReturnUrls:
    """Where a hosted checkout sends the shopper back to (pages or an SPA)."""

    success_url: str
    cancel_url: str


class GatewayUnavailable(Exception):
    """The provider could not be reached or answered with an error; the call may be retried."""


@dataclass(frozen=True)
class RefundResult:
    status: str  # SUCCEEDED, PENDING (confirmed by a refund.succeeded webhook) or FAILED
    reference: str


@dataclass(frozen=True)
class WebhookMessage:
    event_id: str
    type: str
    payment_reference: str = ""
    refund_reference: str = ""
    # Our provider key, when the provider echoes it (lets an event settle a payment whose
    # phase 3 has not recorded the provider's reference yet).
    payment_key: str = ""
    amount: Decimal | None = None
    currency: str = ""
    failure_code: str = ""
    data: Mapping = field(default_factory=dict)

    def __post_init__(self):
        # Whatever a gateway's parser read, these go into queries and rows: a NUL or a lone
        # surrogate there would fail every attempt to process the event (a poison event).
        for name in _TEXT_FIELDS:
            object.__setattr__(self, name, _storable(getattr(self, name)))


_TEXT_FIELDS = (
    "event_id",
    "type",
    "payment_reference",
    "refund_reference",
    "payment_key",
    "currency",
    "failure_code",
)


def _storable(value: str) -> str:
    """The text with NULs dropped and what UTF-8 cannot hold replaced (PostgreSQL takes it)."""
    text = str(value or "").replace("\x00", "")
    return text.encode("utf-8", "replace").decode("utf-8")


class Gateway(ABC):
    """One payment provider, configured under a name in settings.PAYMENT_GATEWAYS."""

    signature_header = "x-signature"  # headers are passed lower-cased

    def __init__(
        self, *, name: str, webhook_secrets: list[str], webhook_tolerance_seconds: int, **options
    ):
        self.name = name
        self.webhook_secrets = webhook_secrets
        self.webhook_tolerance_seconds = webhook_tolerance_seconds
        self.options = options

    # -- payments ---------------------------------------------------------------------------
    def details_clean(self, details: Mapping) -> dict:
        """Validate what the client sent (card form, provider token); raise ValidationError."""
        return {}

    @abstractmethod
    def charge(
        self,
        *,
        payment,
        details: Mapping,
        idempotency_key: str,
        return_urls: ReturnUrls | None = None,
    ) -> ChargeResult:
        """Take `payment.amount` (or open a hosted checkout for it); honour the key.

        Raise GatewayUnavailable when the provider cannot be reached.
        """

    @abstractmethod
    def refund(self, *, payment, refund, idempotency_key: str) -> RefundResult:
        """Give `refund.amount` of the payment back; honour the idempotency key."""

    @abstractmethod
    def payment_status(self, *, payment) -> ChargeResult | None:
        """Return what the provider knows of this payment (by reference or key); None if nothing."""

    @abstractmethod
    def refund_status(self, *, payment, refund) -> RefundResult | None:
        """Return what the provider knows of this refund; None if it never reached it."""

    @abstractmethod
    def checkout_close(self, *, payment) -> ChargeResult | None:
        """Close the payment's open hosted checkout so it can take no money any more.

        Return the payment's status after it: FAILED once closed, SUCCEEDED when the
        shopper paid first, PENDING when the provider cannot close it (a payment waiting
        for its bank). Raise GatewayUnavailable when the provider cannot be reached.
        """

    # -- webhooks ---------------------------------------------------------------------------
    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str], now=None) -> None:
        """Raise InvalidSignature unless the request was signed by this provider, recently."""
        if not self.webhook_secrets:
            raise InvalidSignature("No webhook secret is configured for this gateway.")
        signature_verify(
            secrets=self.webhook_secrets,
            body=body,
            header=headers.get(self.signature_header, ""),
            tolerance_seconds=self.webhook_tolerance_seconds,
            now=now,
        )

    def webhook_parse(self, *, body: bytes) -> WebhookMessage:
        """Read `{id, type, data}`; raise MalformedWebhook when it is not that."""
        try:
            document = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise MalformedWebhook() from exc
        if not isinstance(document, dict):
            raise MalformedWebhook()
        event_id, event_type, data = document.get("id"), document.get("type"), document.get("data")
        if not isinstance(event_id, str) or not _EVENT_ID.match(event_id):
            raise MalformedWebhook("The webhook has no usable `id`.")
        if not isinstance(event_type, str) or not _TYPE.match(event_type):
            raise MalformedWebhook("The webhook has no usable `type`.")
        if not isinstance(data, dict):
            raise MalformedWebhook("The webhook's `data` must be an object.")
        return WebhookMessage(
            event_id=event_id,
            type=event_type,
            payment_reference=_reference(data.get("payment")),
            refund_reference=_reference(data.get("refund")),
            payment_key=_key(data.get("key")),
            amount=_amount(data.get("amount")),
            currency=_currency(data.get("currency")),
            failure_code=str(data.get("failure_code") or "")[:64],
            data=data,
        )


def _reference(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not _REFERENCE.match(value):
        raise MalformedWebhook("A reference in the webhook's `data` is not valid.")
    return value


def _key(value) -> str:
    if value is None:
        return ""
    if not isinstance(value, str) or not 0 < len(value) <= 255:
        raise MalformedWebhook("The key in the webhook's `data` is not valid.")
    return value


def _currency(value) -> str:
    if value is None or value == "":
        return ""
    if not isinstance(value, str) or not re.match(r"^[A-Za-z]{3}$", value):
        raise MalformedWebhook("The webhook's currency is not a currency code.")
    return value.upper()


def _amount(value) -> Decimal | None:
    if value is None:
        return None
    try:
        amount = Decimal(str(value))
    except (InvalidOperation, ValueError) as exc:
        raise MalformedWebhook("The webhook's amount is not a number.") from exc
    if not amount.is_finite():
        raise MalformedWebhook("The webhook's amount is not a number.")
    return amount
