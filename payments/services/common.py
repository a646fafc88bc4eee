"""What the payments services share: the clock, row locks, and the one way to call a gateway."""

import logging
from datetime import datetime
from decimal import Decimal

from django.db import connection
from django.utils import timezone

from orders import services as orders_services
from orders.locking import order_lock

from ..models import Payment, PaymentStatus

logger = logging.getLogger("payments.services")

P = PaymentStatus
ZERO = Decimal("0.00")
FRAUD_REJECTED = "fraud_rejected"

order_unpayable_reason = orders_services.order_unpayable_reason


def now() -> datetime:
    return timezone.now()


def lock_payment(payment_id: int) -> Payment:
    """Lock the payment's order, then the payment (lock order: see orders.locking)."""
    order_id = Payment.objects.filter(pk=payment_id).values_list("order_id", flat=True).get()
    order_lock(order_id=order_id)
    return (
        Payment.objects.select_for_update(of=("self",)).select_related("order").get(pk=payment_id)
    )


def in_transaction() -> bool:
    """Whether a transaction of ours is open (a test case's wrapping one does not count)."""
    return any(not getattr(block, "_from_testcase", False) for block in connection.atomic_blocks)


def gateway_call(method, /, **kwargs):
    """Call a gateway method with no transaction open (phase 2); refuse otherwise.

    A provider call inside a transaction could take money that a rollback then forgets.
    """
    if in_transaction():
        raise RuntimeError(f"{method.__qualname__} called inside a database transaction.")
    return method(**kwargs)
