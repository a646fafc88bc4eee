"""Stock levels: receive, adjust, return goods, thresholds. Every change writes its ledger row.

Rows are locked as the package says (inventory.services: reservations, then stock items,
each in primary-key order).
"""

from collections.abc import Mapping
from datetime import date

from django.db import IntegrityError, transaction
from django.db.models import F

from ..errors import (
    InsufficientStock,
    InvalidQuantity,
    Shortage,
    StockItemExists,
)
from ..models import Batch, StockItem, StockMovement
from .base import (
    COUNTER_MAX,
    _actor,
    _check_quantity,
    _check_reference,
    _demand,
    _lock_item,
    _lock_items,
    _queue_alert_evaluation,
    _refresh_into,
)


def stock_item_for_product(*, product) -> StockItem:
    """Return the product's stock item, creating an empty one the first time."""
    stock_item, _ = StockItem.objects.get_or_create(product=product)
    return stock_item


def stock_item_create(*, product, low_stock_threshold: int | None = None) -> StockItem:
    """Make the stock item of a product that has none (made before every product got one)."""
    fields = {} if low_stock_threshold is None else {"low_stock_threshold": low_stock_threshold}
    try:
        with transaction.atomic():
            return StockItem.objects.create(product=product, **fields)
    except IntegrityError:  # it exists, or a concurrent request just made it
        if StockItem.objects.filter(product=product).exists():
            raise StockItemExists() from None
        raise


@transaction.atomic
def stock_item_delete_if_unused(*, product) -> bool:
    """Delete the product's stock item if it has no ledger, batch, reservation or alert."""
    item = StockItem.objects.select_for_update().filter(product=product).first()
    if item is None or item.on_hand or item.reserved:
        return False
    for related in (item.movements, item.batches, item.reservations, item.alerts):
        if related.exists():
            return False
    item.delete()
    return True


@transaction.atomic
def stock_receive(
    *,
    stock_item: StockItem,
    quantity: int,
    batch_number: str = "",
    expires_on: date | None = None,
    actor=None,
    reference: str = "",
) -> StockItem:
    """Put received units on the shelf, optionally under a batch number with an expiry date."""
    quantity = _check_quantity(quantity)
    reference = _check_reference(reference, required=False)
    batch_number = (batch_number or "").strip()
    if expires_on is not None and not batch_number:
        raise InvalidQuantity("An expiry date needs a batch number.")
    locked = _lock_item(stock_item)
    if locked.on_hand + quantity > COUNTER_MAX:
        raise InvalidQuantity("That would put more on hand than can be counted.")
    batch = None
    if batch_number:
        batch, created = Batch.objects.get_or_create(
            stock_item=locked,
            number=batch_number,
            defaults={"expires_on": expires_on, "quantity_received": quantity},
        )
        if not created:
            changes = {"quantity_received": F("quantity_received") + quantity}
            if expires_on is not None:
                changes["expires_on"] = expires_on
            Batch.objects.filter(pk=batch.pk).update(**changes)
    StockItem.objects.filter(pk=locked.pk).update(on_hand=F("on_hand") + quantity)
    StockMovement.objects.create(
        stock_item=locked,
        kind=StockMovement.Kind.RECEIPT,
        delta_on_hand=quantity,
        reference=reference,
        batch=batch,
        actor=_actor(actor),
    )
    _queue_alert_evaluation([locked.pk])
    return _refresh_into(stock_item)


@transaction.atomic
def stock_adjust(*, stock_item: StockItem, delta: int, reason: str, actor=None) -> StockItem:
    """Correct on_hand by `delta` (a count, damage, loss); it never drops below what is reserved."""
    if isinstance(delta, bool) or not isinstance(delta, int) or delta == 0:
        raise InvalidQuantity("The adjustment must be a whole number other than zero.")
    reason = (reason or "").strip()
    if not reason:
        raise InvalidQuantity("An adjustment needs a reason.")
    locked = _lock_item(stock_item)
    if locked.on_hand + delta > COUNTER_MAX:
        raise InvalidQuantity("That would put more on hand than can be counted.")
    if locked.on_hand + delta < locked.reserved:
        raise InsufficientStock(
            [Shortage(locked.product_id, -delta, locked.on_hand - locked.reserved)],
            message="The adjustment would leave less on hand than is reserved.",
        )
    StockItem.objects.filter(pk=locked.pk).update(on_hand=F("on_hand") + delta)
    StockMovement.objects.create(
        stock_item=locked,
        kind=StockMovement.Kind.ADJUSTMENT,
        delta_on_hand=delta,
        note=reason[:255],
        actor=_actor(actor),
    )
    _queue_alert_evaluation([locked.pk])
    return _refresh_into(stock_item)


@transaction.atomic
def stock_threshold_set(*, stock_item: StockItem, low_stock_threshold: int) -> StockItem:
    """Change when an item counts as low on stock, then re-evaluate its alerts."""
    if isinstance(low_stock_threshold, bool) or low_stock_threshold < 0:
        raise InvalidQuantity("The threshold must be zero or more.")
    StockItem.objects.filter(pk=stock_item.pk).update(low_stock_threshold=low_stock_threshold)
    stock_item.low_stock_threshold = low_stock_threshold
    _queue_alert_evaluation([stock_item.pk])
    return stock_item


@transaction.atomic
def stock_return(*, lines: Mapping[int, int], reference: str, actor=None) -> None:
    """Put refunded units back on the shelf (ledger kind `return`)."""
    demand = _demand(lines)
    reference = _check_reference(reference, required=False)
    existing = set(
        StockItem.objects.filter(product_id__in=demand).values_list("product_id", flat=True)
    )
    for product_id in sorted(set(demand) - existing):
        # A product sold before it had a stock row still gets one to return into.
        StockItem.objects.get_or_create(product_id=product_id)
    items = _lock_items(product_id__in=demand)
    movements = []
    for item in items:
        quantity = demand[item.product_id]
        if item.on_hand + quantity > COUNTER_MAX:
            raise InvalidQuantity("That would put more on hand than can be counted.")
        StockItem.objects.filter(pk=item.pk).update(on_hand=F("on_hand") + quantity)
        movements.append(
            StockMovement(
                stock_item=item,
                kind=StockMovement.Kind.RETURN,
                delta_on_hand=quantity,
                reference=reference,
                actor=_actor(actor),
            )
        )
    StockMovement.objects.bulk_create(movements)
    _queue_alert_evaluation([item.pk for item in items])
