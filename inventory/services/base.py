"""What the stock writes share: checks of their input, row locks in id order, the actor."""

from collections import defaultdict
from collections.abc import Iterable, Mapping

from outbox.services import task_enqueue

from ..errors import (
    InvalidQuantity,
    InvalidReference,
)
from ..models import StockItem, StockMovement

REFERENCE_MAX_LENGTH = StockMovement._meta.get_field("reference").max_length
COUNTER_MAX = 2_147_483_647  # PositiveIntegerField on PostgreSQL


def _actor(actor):
    """Return the user to record on a ledger row, or None for anonymous and system changes."""
    return actor if getattr(actor, "is_authenticated", False) else None


def _check_quantity(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity <= 0:
        raise InvalidQuantity()
    return quantity


def _check_reference(reference: str, *, required: bool) -> str:
    reference = (reference or "").strip()
    if (required and not reference) or len(reference) > REFERENCE_MAX_LENGTH:
        raise InvalidReference()
    return reference


def _demand(lines: Mapping[int, int] | Iterable[tuple[int, int]]) -> dict[int, int]:
    """Sum the demand per product id (lines may repeat a product)."""
    pairs = lines.items() if isinstance(lines, Mapping) else lines
    demand: dict[int, int] = defaultdict(int)
    for product_id, quantity in pairs:
        demand[int(product_id)] += _check_quantity(quantity)
    if not demand:
        raise InvalidQuantity("Nothing to reserve.")
    return dict(demand)


def _lock_items(**filters) -> list[StockItem]:
    return list(StockItem.objects.select_for_update(of=("self",)).filter(**filters).order_by("pk"))


def _lock_item(stock_item: StockItem) -> StockItem:
    return StockItem.objects.select_for_update(of=("self",)).get(pk=stock_item.pk)


def _queue_alert_evaluation(stock_item_ids) -> None:
    """Re-evaluate the alerts of these items once the transaction has committed."""
    ids = sorted(set(stock_item_ids))
    if ids:
        task_enqueue("inventory.tasks.stock_alerts_evaluate", ids)


def _refresh_into(target: StockItem) -> StockItem:
    target.refresh_from_db(fields=("on_hand", "reserved", "updated_at"))
    return target
