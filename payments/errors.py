"""Payments domain errors (see config/api.py for the protocol: code, http_status, payload)."""

from decimal import Decimal


class PaymentsError(Exception):
    code = "payments_error"
    http_status = 400


class UnknownGateway(PaymentsError):
    code = "unknown_gateway"
    http_status = 400

    def __init__(self, name: str = ""):
        super().__init__(f"No payment gateway is called {name[:40]!r}.")


class InvalidSignature(PaymentsError):
    code = "invalid_signature"
    http_status = 400

    def __init__(self, message="The webhook signature is missing or does not match."):
        super().__init__(message)


class SignatureExpired(InvalidSignature):
    code = "signature_expired"

    def __init__(self, message="The webhook signature is too old or from the future."):
        super().__init__(message)


class MalformedWebhook(PaymentsError):
    code = "malformed_payload"
    http_status = 400

    def __init__(self, message="The webhook body is not the expected JSON object."):
        super().__init__(message)


class OrderNotPayable(PaymentsError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, message="This order cannot be paid (it is not awaiting payment)."):
        super().__init__(message)


class IdempotencyKeyReused(PaymentsError):
    code = "idempotency_key_reused"
    http_status = 422

    def __init__(self, message="This Idempotency-Key was already used with a different body."):
        super().__init__(message)


class PaymentNotRefundable(PaymentsError):
    code = "payment_not_refundable"
    http_status = 409

    def __init__(self, message="Only a payment that took money can be refunded."):
        super().__init__(message)


class RefundExceedsPayment(PaymentsError):
    code = "refund_exceeds_payment"
    http_status = 400

    def __init__(self, remaining: Decimal):
        self.remaining = remaining
        super().__init__(f"At most {remaining} can still be refunded on this payment.")

    def payload(self) -> dict:
        return {"refundable": f"{self.remaining:.2f}"}


class RestockNotPossible(PaymentsError):
    code = "restock_not_possible"
    http_status = 400

    def __init__(self, message="These goods cannot be put back on the shelf."):
        super().__init__(message)


class PaymentNotInReview(PaymentsError):
    code = "payment_not_in_review"
    http_status = 409

    def __init__(self, message="This payment is not waiting for a fraud review."):
        super().__init__(message)


class GatewayFailed(PaymentsError):
    """The provider refused an operation we asked for (not a card decline)."""

    code = "gateway_error"
    http_status = 502

    def __init__(self, message="The payment provider refused the request."):
        super().__init__(message)


class WebhookTargetMissing(PaymentsError):
    """A webhook names a payment or refund we do not know (yet); processing is retried."""

    code = "webhook_target_missing"
    http_status = 409


class PaymentInProgress(PaymentsError):
    """Another payment of this order is being made (or waits for its provider)."""

    code = "payment_in_progress"
    http_status = 409

    def __init__(self, message="Another payment for this order is in progress."):
        super().__init__(message)
