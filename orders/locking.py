"""The one lock order of the shop, and the function that takes its first lock.

LOCK ORDER (every path that changes money, orders or stock follows it):

1. the order row (`order_lock`; one order per transaction),
2. then its payments (payments.services), then their refunds,
3. then stock rows, in primary-key order (inventory.services locks reservations, then
   stock items, each by id).

Carts are apart: the cart row first, then its lines. A webhook event row is locked before
all of these (it names the payment; processing it then takes 1-2-3).

Money never moves inside a transaction: a payment or refund is recorded in one transaction
(phase 1, taking the locks above), the provider is called with no transaction open
(phase 2), and the result is applied in a new transaction that takes the locks again, in
the same order (phase 3). Code that takes locks says "lock order: see orders.locking".
"""

from .models import Order


def order_lock(*, order_id: int, nowait: bool = False) -> Order:
    """Lock the order row (step 1 of the lock order) and return it fresh from the database.

    Must run inside a transaction.
    """
    return Order.objects.select_for_update(nowait=nowait).get(pk=order_id)
