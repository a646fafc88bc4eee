"""Orders domain errors (see config/api.py for the protocol: code, http_status, payload)."""


class OrdersError(Exception):
    code = "orders_error"
    http_status = 400


class InvalidTransition(OrdersError):
    code = "invalid_transition"
    http_status = 409

    def __init__(self, from_status: str = "", to_status: str = "", message: str = ""):
        self.from_status, self.to_status = from_status, to_status
        super().__init__(
            message or f"An order cannot go from {from_status or 'nothing'} to {to_status}."
        )


class CartEmpty(OrdersError):
    code = "cart_empty"
    http_status = 400

    def __init__(self, message="Your cart is empty."):
        super().__init__(message)


class CartItemGone(OrdersError):
    """The cart line was removed (another device, a checkout) before this change got its lock."""

    code = "not_found"
    http_status = 404

    def __init__(self, message="This item is no longer in your cart."):
        super().__init__(message)


class EmailNotVerified(OrdersError):
    code = "email_not_verified"
    http_status = 403

    def __init__(self, message="Please verify your email address before checking out."):
        super().__init__(message)


class IdempotencyKeyReused(OrdersError):
    code = "idempotency_key_reused"
    http_status = 422

    def __init__(self, message="This Idempotency-Key was already used with a different body."):
        super().__init__(message)


class ProductUnavailable(OrdersError):
    """A cart line points to a product that is no longer sold."""

    code = "product_unavailable"
    http_status = 409

    def __init__(self, product_ids, message=""):
        self.product_ids = sorted(product_ids)
        super().__init__(message or "Some products in your cart are no longer sold.")

    def payload(self) -> dict:
        return {"products": self.product_ids}


class PaymentInProgress(OrdersError):
    """A payment is moving money for this order right now; try again in a moment."""

    code = "payment_in_progress"
    http_status = 409

    def __init__(self, message="A payment for this order is in progress; try again shortly."):
        super().__init__(message)
