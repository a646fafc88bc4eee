"""Writes to stock, split by concern; callers use `inventory.services.<name>`.

- levels: receive, adjust, return goods, thresholds
- reservations: stock held for an order, then committed, released or expired
- alerts: low stock and expiring batches

Every counter change writes its ledger row in the same transaction. Locking rule (it is
what keeps concurrent checkouts from deadlocking): reservation rows first, then stock item
rows, each in primary-key order; see orders.locking for where stock comes in the whole
lock order (the order row, then payments, then stock rows by id).
"""

from .alerts import (
    stock_alert_acknowledge,
    stock_alert_notify,
    stock_alert_recipients,
    stock_alerts_evaluate,
)
from .base import COUNTER_MAX, REFERENCE_MAX_LENGTH
from .levels import (
    stock_adjust,
    stock_item_create,
    stock_item_delete_if_unused,
    stock_item_for_product,
    stock_receive,
    stock_return,
    stock_threshold_set,
)
from .reservations import (
    reservation_expiry_default,
    reservations_commit,
    reservations_expire,
    reservations_release,
    stock_reserve,
    stock_reserve_in_transaction,
)

__all__ = [
    "COUNTER_MAX",
    "REFERENCE_MAX_LENGTH",
    "reservation_expiry_default",
    "reservations_commit",
    "reservations_expire",
    "reservations_release",
    "stock_adjust",
    "stock_alert_acknowledge",
    "stock_alert_notify",
    "stock_alert_recipients",
    "stock_alerts_evaluate",
    "stock_item_create",
    "stock_item_delete_if_unused",
    "stock_item_for_product",
    "stock_receive",
    "stock_reserve",
    "stock_reserve_in_transaction",
    "stock_return",
    "stock_threshold_set",
]
