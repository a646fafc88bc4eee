"""Writes to carts and orders, split by concern; callers use `orders.services.<name>`.

- carts: cart changes, merges and purges (the cart row, then its lines)
- checkout: a cart becomes a pending order with its stock reserved, once per key
- lifecycle: the transition table and each step's stock side effects and events
- settlement: what payments asks of orders (begin, mark paid, refunds)
- notifications: the shopper's emails about their order

Lock order: see orders.locking (the order row, then payments, then stock rows by id).
"""

from .carts import (
    cart_get_or_create,
    cart_item_add,
    cart_item_remove,
    cart_item_update,
    cart_merge,
    cart_merge_guest_into_user,
    cart_subtotal,
    carts_purge_guest,
)
from .checkout import order_checkout, order_checkout_guest, request_hash, shipping_for
from .lifecycle import (
    NOT_WHEN_FULLY_REFUNDED,
    REFUND_TRANSITIONS,
    TRANSITIONS,
    order_cancel_unpaid,
    order_expire_for_reference,
    order_expire_unpaid,
    order_fully_refunded,
    order_transition,
    order_transition_by_staff,
    transition_allowed,
)
from .notifications import NOTIFIED_STATUSES, order_event_notify
from .settlement import (
    order_mark_paid,
    order_payment_begin,
    order_payment_end,
    order_refund_apply,
    order_refund_record,
    order_refund_reverse,
    order_unpayable_reason,
)

__all__ = [
    "NOTIFIED_STATUSES",
    "NOT_WHEN_FULLY_REFUNDED",
    "REFUND_TRANSITIONS",
    "TRANSITIONS",
    "cart_get_or_create",
    "cart_item_add",
    "cart_item_remove",
    "cart_item_update",
    "cart_merge",
    "cart_merge_guest_into_user",
    "cart_subtotal",
    "carts_purge_guest",
    "order_cancel_unpaid",
    "order_checkout",
    "order_checkout_guest",
    "order_event_notify",
    "order_expire_for_reference",
    "order_expire_unpaid",
    "order_fully_refunded",
    "order_mark_paid",
    "order_payment_begin",
    "order_payment_end",
    "order_refund_apply",
    "order_refund_record",
    "order_refund_reverse",
    "order_transition",
    "order_transition_by_staff",
    "order_unpayable_reason",
    "request_hash",
    "shipping_for",
    "transition_allowed",
]
