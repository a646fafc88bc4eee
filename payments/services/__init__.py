"""Writes to payments, split by concern; import the public services from here.

- charges: starting a payment in three phases (record, call the gateway, apply)
- refunds: giving money back in the same phases
- webhooks: verifying, storing and (after, in a worker) processing provider events
- reviews: staff decisions on payments held for review
- reconcile: asking the gateway about what a crash left `processing`; inbox purge
- notices: emails to the shopper (payment succeeded, failed, refunded), staff alerts

Lock order: see orders.locking (the order row, then payments, then stock rows by id).
Money never moves inside a transaction: a gateway is called only through
`common.gateway_call`, which refuses to run inside one.
"""

from .charges import (
    payment_abandon,
    payment_apply_result,
    payment_checkouts_close,
    payment_start,
)
from .common import order_unpayable_reason
from .reconcile import (
    orders_expire_with_open_checkouts,
    payments_reconcile,
    refunds_reconcile,
    webhook_events_purge,
)
from .refunds import order_payments_refund, refund_create, refund_create_once, refund_execute
from .reviews import payment_review_approve, payment_review_reject
from .webhooks import (
    WEBHOOK_MAX_ATTEMPTS,
    webhook_events_reprocess,
    webhook_process,
    webhook_process_pending,
    webhook_receive,
    webhook_simulate,
    webhooks_drain,
)

__all__ = [
    "WEBHOOK_MAX_ATTEMPTS",
    "order_payments_refund",
    "order_unpayable_reason",
    "orders_expire_with_open_checkouts",
    "payment_abandon",
    "payment_apply_result",
    "payment_checkouts_close",
    "payment_review_approve",
    "payment_review_reject",
    "payment_start",
    "payments_reconcile",
    "refund_create",
    "refund_create_once",
    "refund_execute",
    "refunds_reconcile",
    "webhook_events_purge",
    "webhook_events_reprocess",
    "webhook_process",
    "webhook_process_pending",
    "webhook_receive",
    "webhook_simulate",
    "webhooks_drain",
]
