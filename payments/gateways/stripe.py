"""Stripe, through the official SDK, with hosted checkout (Checkout Sessions).

The shop never receives a card number: a payment opens a Checkout Session (amount in
minor units, our provider key as the Idempotency-Key and in the metadata) and the shopper
pays on Stripe's page, which sends them back to the return or cancel URL. Stripe's
webhooks (`checkout.session.completed`, `...async_payment_succeeded/failed`,
`checkout.session.expired`, `refund.created/updated`) are verified with the SDK's own
signature check and normalised into our event types. Refunds go to the session's
PaymentIntent with the refund's provider key.

Configured by STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET (settings.PAYMENT_GATEWAYS);
API_BASE (or `stripe.api_base`) points the SDK elsewhere, for the offline test fake.
"""

from collections.abc import Mapping
from datetime import timedelta
from decimal import Decimal

import stripe
from django.core.exceptions import ValidationError

from ..errors import InvalidSignature, MalformedWebhook
from .base import (
    FAILED,
    PAYMENT_FAILED,
    PAYMENT_SUCCEEDED,
    PENDING,
    REFUND_SUCCEEDED,
    SUCCEEDED,
    ChargeResult,
    Gateway,
    GatewayUnavailable,
    RefundResult,
    ReturnUrls,
    WebhookMessage,
)

# Currencies Stripe counts in whole units (https://docs.stripe.com/currencies#zero-decimal).
ZERO_DECIMAL = frozenset(
    [
        "BIF",
        "CLP",
        "DJF",
        "GNF",
        "JPY",
        "KMF",
        "KRW",
        "MGA",
        "PYG",
        "RWF",
        "UGX",
        "VND",
        "VUV",
        "XAF",
        "XOF",
        "XPF",
    ]
)
TIMEOUT_SECONDS = 20
# A Checkout Session may expire 30 minutes to 24 hours after it is made (Stripe's
# `expires_at`); a margin keeps a clock a little ahead of Stripe's inside those bounds.
SESSION_MIN_LIFETIME = timedelta(minutes=30) + timedelta(minutes=2)
SESSION_MAX_LIFETIME = timedelta(hours=24) - timedelta(minutes=5)


def to_minor(amount: Decimal, currency: str) -> int:
    """Return the amount in the currency's minor units (cents), as Stripe wants it."""
    factor = 1 if currency.upper() in ZERO_DECIMAL else 100
    return int((Decimal(amount) * factor).to_integral_exact())


def _plain(obj) -> dict:
    """The SDK's objects are not dicts: read them as plain data."""
    return obj.to_dict() if hasattr(obj, "to_dict") else dict(obj)


def from_minor(amount: int, currency: str) -> Decimal:
    factor = 1 if currency.upper() in ZERO_DECIMAL else 100
    return (Decimal(int(amount)) / factor).quantize(Decimal("0.01"))


class StripeGateway(Gateway):
    """Options: SECRET_KEY (required), API_BASE (tests: a local fake of Stripe's API)."""

    signature_header = "stripe-signature"

    def _client(self) -> stripe.StripeClient:
        base = self.options.get("api_base") or stripe.api_base
        return stripe.StripeClient(
            self.options["secret_key"],
            base_addresses={"api": base},
            max_network_retries=2,  # the SDK retries with the same idempotency key
            http_client=stripe.RequestsClient(timeout=TIMEOUT_SECONDS),
        )

    def _call(self, fn, *args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except stripe.StripeError as exc:
            raise GatewayUnavailable(f"Stripe: {exc.user_message or exc}") from exc

    # -- payments ---------------------------------------------------------------------------
    def details_clean(self, details: Mapping) -> dict:
        if str(details.get("card_number") or "").strip():
            raise ValidationError(
                {
                    "card_number": [
                        ValidationError(
                            "Card numbers are never sent to the shop: leave it out and pay "
                            "on Stripe's page.",
                            code="hosted_checkout_only",
                        )
                    ]
                }
            )
        return {}

    @staticmethod
    def session_expires_at(payment) -> int:
        """Return when the payment's session expires (epoch seconds): at the reservation's
        expiry, within Stripe's bounds. From the payment's creation, so a retry with the
        same idempotency key sends the same parameters."""
        made = payment.created_at
        wanted = payment.order.reservation_expires_at or made
        expires = min(max(wanted, made + SESSION_MIN_LIFETIME), made + SESSION_MAX_LIFETIME)
        return int(expires.timestamp())

    def _session_params(self, payment, idempotency_key: str, urls: ReturnUrls) -> dict:
        number = payment.order.number
        return {
            "mode": "payment",
            "expires_at": self.session_expires_at(payment),
            "line_items": [
                {
                    "quantity": 1,
                    "price_data": {
                        "currency": payment.currency.lower(),
                        "unit_amount": to_minor(payment.amount, payment.currency),
                        "product_data": {"name": f"Order {number}"},
                    },
                }
            ],
            "success_url": urls.success_url,
            "cancel_url": urls.cancel_url,
            "client_reference_id": number,
            "metadata": {"provider_key": idempotency_key, "order": number},
            "payment_intent_data": {"metadata": {"provider_key": idempotency_key}},
        }

    def _session_result(self, session) -> ChargeResult:
        session = _plain(session)
        status, paid = session.get("status"), session.get("payment_status")
        if status == "complete" and paid in ("paid", "no_payment_required"):
            return ChargeResult(SUCCEEDED, session["id"])
        if status == "expired":
            return ChargeResult(FAILED, session["id"], "expired", "The checkout expired.")
        return ChargeResult(PENDING, session["id"], redirect_url=session.get("url") or "")

    def charge(
        self,
        *,
        payment,
        details: Mapping,
        idempotency_key: str,
        return_urls: ReturnUrls | None = None,
    ) -> ChargeResult:
        if return_urls is None:
            raise ValueError("A hosted checkout needs return URLs.")
        session = self._call(
            self._client().v1.checkout.sessions.create,
            params=self._session_params(payment, idempotency_key, return_urls),
            options={"idempotency_key": idempotency_key},
        )
        return self._session_result(session)

    def payment_status(self, *, payment) -> ChargeResult | None:
        client = self._client()
        if payment.gateway_reference:
            session = self._call(client.v1.checkout.sessions.retrieve, payment.gateway_reference)
            return self._session_result(session)
        # Phase 2 may or may not have reached Stripe: asking again with the same key and
        # parameters answers the session it made, or makes it now (never two).
        urls = ReturnUrls(payment.return_url, payment.cancel_url)
        try:
            return self.charge(
                payment=payment, details={}, idempotency_key=payment.provider_key, return_urls=urls
            )
        except GatewayUnavailable as exc:
            cause = exc.__cause__
            if isinstance(cause, stripe.InvalidRequestError) and cause.param == "expires_at":
                # Stripe replays a session it made for this key without checking again; it
                # refused, so it never made one (and one made now could not keep its expiry).
                return None
            raise

    def checkout_close(self, *, payment) -> ChargeResult | None:
        reference = payment.gateway_reference
        if not reference:  # phase 3 did not record the session: ask for it by our key
            found = self.payment_status(payment=payment)
            if found is None or found.status != PENDING or not found.reference:
                return found
            reference = found.reference
        try:
            session = self._client().v1.checkout.sessions.expire(reference)
        except stripe.InvalidRequestError:  # already complete or expired: ask what it is
            return self._session_result(
                self._call(self._client().v1.checkout.sessions.retrieve, reference)
            )
        except stripe.StripeError as exc:
            raise GatewayUnavailable(str(exc)) from exc
        return self._session_result(session)

    # -- refunds ----------------------------------------------------------------------------
    @staticmethod
    def _refund_result(refund) -> RefundResult:
        refund = _plain(refund)
        status = {"succeeded": SUCCEEDED, "failed": FAILED, "canceled": FAILED}.get(
            refund.get("status"), PENDING
        )
        return RefundResult(status, refund["id"])

    def refund(self, *, payment, refund, idempotency_key: str) -> RefundResult:
        client = self._client()
        session = _plain(
            self._call(client.v1.checkout.sessions.retrieve, payment.gateway_reference)
        )
        intent = session.get("payment_intent")
        if not intent:
            return RefundResult(FAILED, "")
        if not isinstance(intent, str):
            intent = intent["id"]
        try:
            made = client.v1.refunds.create(
                params={
                    "payment_intent": intent,
                    "amount": to_minor(refund.amount, payment.currency),
                    "metadata": {"provider_key": idempotency_key},
                },
                options={"idempotency_key": idempotency_key},
            )
        except stripe.InvalidRequestError:  # more than is left, or nothing to refund
            return RefundResult(FAILED, "")
        except stripe.StripeError as exc:
            raise GatewayUnavailable(str(exc)) from exc
        return self._refund_result(made)

    def refund_status(self, *, payment, refund) -> RefundResult | None:
        if not refund.gateway_reference:
            return None  # reconcile calls `refund` again with the same key
        found = self._call(self._client().v1.refunds.retrieve, refund.gateway_reference)
        return self._refund_result(found)

    # -- webhooks ---------------------------------------------------------------------------
    def webhook_verify(self, *, body: bytes, headers: Mapping[str, str], now=None) -> None:
        header = headers.get(self.signature_header, "")
        if not self.webhook_secrets or not header:
            raise InvalidSignature()
        for secret in self.webhook_secrets:
            try:
                stripe.Webhook.construct_event(
                    body, header, secret, tolerance=self.webhook_tolerance_seconds
                )
                return
            except stripe.SignatureVerificationError:
                continue
            except ValueError as exc:
                raise MalformedWebhook() from exc
        raise InvalidSignature()

    def webhook_parse(self, *, body: bytes) -> WebhookMessage:
        import json

        try:
            event = json.loads(body.decode("utf-8"))
            event_id, event_type = event["id"], event["type"]
            obj = event["data"]["object"]
        except (UnicodeDecodeError, ValueError, KeyError, TypeError) as exc:
            raise MalformedWebhook() from exc
        if not isinstance(event_id, str) or not isinstance(event_type, str):
            raise MalformedWebhook()
        if not isinstance(obj, dict) or not 0 < len(event_id) <= 255:
            raise MalformedWebhook()
        our_type, failure = self._our_type(event_type, obj)
        if our_type in (PAYMENT_SUCCEEDED, PAYMENT_FAILED):
            currency = str(obj.get("currency") or "").upper()
            amount = obj.get("amount_total")
            return WebhookMessage(
                event_id=event_id,
                type=our_type,
                payment_reference=str(obj.get("id") or "")[:100],
                payment_key=str((obj.get("metadata") or {}).get("provider_key") or "")[:255],
                amount=from_minor(amount, currency) if isinstance(amount, int) else None,
                currency=currency,
                failure_code=failure,
                data=obj,
            )
        if our_type == REFUND_SUCCEEDED:
            currency = str(obj.get("currency") or "").upper()
            amount = obj.get("amount")
            return WebhookMessage(
                event_id=event_id,
                type=our_type,
                refund_reference=str(obj.get("id") or "")[:100],
                amount=from_minor(amount, currency) if isinstance(amount, int) else None,
                currency=currency,
                data=obj,
            )
        return WebhookMessage(event_id=event_id, type=f"stripe.{event_type}"[:100], data=obj)

    @staticmethod
    def _our_type(event_type: str, obj: dict) -> tuple[str, str]:
        if event_type == "checkout.session.completed":
            # Card payments are paid at once; delayed methods settle by async_payment_*.
            return (PAYMENT_SUCCEEDED, "") if obj.get("payment_status") == "paid" else ("", "")
        if event_type == "checkout.session.async_payment_succeeded":
            return PAYMENT_SUCCEEDED, ""
        if event_type == "checkout.session.async_payment_failed":
            return PAYMENT_FAILED, "payment_failed"
        if event_type == "checkout.session.expired":
            return PAYMENT_FAILED, "expired"
        if event_type in ("refund.created", "refund.updated") and obj.get("status") == "succeeded":
            return REFUND_SUCCEEDED, ""
        return "", ""
