"""Reservations: stock held for an order, then committed, released or expired.

Locking rule (it is what keeps concurrent checkouts from deadlocking): a transaction locks
reservation rows first, then stock item rows, each in primary-key order. Counters are
changed with `F()` expressions on locked rows, and the CHECK constraints on StockItem are
the last line of defence: no code path can make `reserved` exceed `on_hand`.
"""

from collections import defaultdict
from collections.abc import Mapping
from datetime import datetime, timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from ..errors import (
    InsufficientStock,
    Shortage,
)
from ..models import Reservation, StockItem, StockMovement
from ..signals import reservation_expired
from .base import (
    _actor,
    _check_reference,
    _demand,
    _lock_items,
    _queue_alert_evaluation,
)


def _raise_if_short(demand: dict[int, int], items) -> None:
    """Raise InsufficientStock listing every line the items cannot serve."""
    available = {item.product_id: max(item.on_hand - item.reserved, 0) for item in items}
    InsufficientStock.raise_if_short(demand, available)


@transaction.atomic
def stock_reserve(
    *,
    lines: Mapping[int, int],
    reference: str,
    expires_at: datetime,
    actor=None,
) -> list[Reservation]:
    """Reserve every line or none: lock the items in pk order, check, then take the units.

    Raises InsufficientStock listing each short line (a product without stock has 0 available).
    """
    demand = _demand(lines)
    reference = _check_reference(reference, required=True)
    # A plain read first: when the committed stock is already short, refuse without queueing
    # for the row locks (under contention most attempts end here). Then lock and check again.
    _raise_if_short(demand, StockItem.objects.filter(product_id__in=demand))
    items = {item.product_id: item for item in _lock_items(product_id__in=demand)}
    _raise_if_short(demand, items.values())

    reservations, movements = [], []
    for item in sorted(items.values(), key=lambda i: i.pk):
        quantity = demand[item.product_id]
        # The condition repeats the check in SQL: the row is locked, so it cannot fail, but a
        # counter can never be pushed past on_hand even by a caller that forgot the lock.
        updated = StockItem.objects.filter(
            pk=item.pk, on_hand__gte=F("reserved") + quantity
        ).update(reserved=F("reserved") + quantity)
        if updated != 1:  # pragma: no cover - guarded by the lock above
            raise InsufficientStock([Shortage(item.product_id, quantity, 0)])
        reservations.append(
            Reservation(
                stock_item=item, quantity=quantity, reference=reference, expires_at=expires_at
            )
        )
        movements.append(
            StockMovement(
                stock_item=item,
                kind=StockMovement.Kind.RESERVATION,
                delta_reserved=quantity,
                reference=reference,
                actor=_actor(actor),
            )
        )
    reservations = Reservation.objects.bulk_create(reservations)
    StockMovement.objects.bulk_create(movements)
    _queue_alert_evaluation(items[pid].pk for pid in items)
    return reservations


def _reserve_counters(items: list[StockItem], demand: dict[int, int]) -> int:
    """Add each locked item's demand to its reserved counter; return the rows updated.

    The condition repeats the stock check in SQL: the rows are locked, so it cannot fail, but
    a counter can never be pushed past on_hand even by a caller that forgot the lock.
    PostgreSQL: one UPDATE ... FROM (VALUES ...) for every line; elsewhere one per line.
    """
    if connection.vendor != "postgresql":
        return sum(
            StockItem.objects.filter(
                pk=item.pk, on_hand__gte=F("reserved") + demand[item.product_id]
            ).update(reserved=F("reserved") + demand[item.product_id])
            for item in items
        )
    table = connection.ops.quote_name(StockItem._meta.db_table)
    values = ", ".join(["(%s::bigint, %s::integer)"] * len(items))
    params = [value for item in items for value in (item.pk, demand[item.product_id])]
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET reserved = s.reserved + v.quantity "  # noqa: S608
            f"FROM (VALUES {values}) AS v(id, quantity) "
            "WHERE s.id = v.id AND s.on_hand >= s.reserved + v.quantity",
            params,
        )
        return cursor.rowcount


def stock_reserve_in_transaction(
    *,
    lines: Mapping[int, int],
    reference: str,
    expires_at: datetime,
    actor=None,
    after_commit: list | None = None,
) -> list[Reservation]:
    """Reserve every line or none, inside the caller's transaction (no savepoint of its own).

    For a caller that has already made the unlocked short-stock check (checkout joins it into
    its cart query) and rolls back on InsufficientStock. Four statements: lock the items in pk
    order, one UPDATE ... FROM (VALUES ...) for every line, the reservations, the ledger.
    The alert re-evaluation is appended to `after_commit` as a (task, args, kwargs) call for
    the caller's outbox batch (`outbox.services.tasks_enqueue`); without it, it is queued here.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("stock_reserve_in_transaction needs an open transaction.")
    demand = _demand(lines)
    reference = _check_reference(reference, required=True)
    items = _lock_items(product_id__in=demand)
    _raise_if_short(demand, items)
    if _reserve_counters(items, demand) != len(items):  # pragma: no cover - the lock above
        raise InsufficientStock([Shortage(i.product_id, demand[i.product_id], 0) for i in items])
    reservations = Reservation.objects.bulk_create(
        [
            Reservation(
                stock_item=item,
                quantity=demand[item.product_id],
                reference=reference,
                expires_at=expires_at,
            )
            for item in items
        ]
    )
    StockMovement.objects.bulk_create(
        [
            StockMovement(
                stock_item=item,
                kind=StockMovement.Kind.RESERVATION,
                delta_reserved=demand[item.product_id],
                reference=reference,
                actor=_actor(actor),
            )
            for item in items
        ]
    )
    ids = sorted(item.pk for item in items)
    if after_commit is None:
        _queue_alert_evaluation(ids)
    else:
        after_commit.append(("inventory.tasks.stock_alerts_evaluate", [ids], {}))
    return reservations


def _reservations_close(
    *,
    reference: str,
    to_state: str,
    kind: str,
    take_on_hand: bool,
    actor=None,
    due_before: datetime | None = None,
) -> int:
    """Move the reference's active reservations to `to_state`, giving back or taking the units."""
    filters = Q(reference=reference, state=Reservation.State.ACTIVE)
    if due_before is not None:
        filters &= Q(expires_at__lte=due_before)
    reservations = list(
        Reservation.objects.select_for_update(of=("self",)).filter(filters).order_by("pk")
    )
    if not reservations:
        return 0
    per_item: dict[int, int] = defaultdict(int)
    for reservation in reservations:
        per_item[reservation.stock_item_id] += reservation.quantity
    _lock_items(pk__in=per_item)
    for item_id, quantity in sorted(per_item.items()):
        changes = {"reserved": F("reserved") - quantity}
        if take_on_hand:
            changes["on_hand"] = F("on_hand") - quantity
        StockItem.objects.filter(pk=item_id).update(**changes)
    Reservation.objects.filter(pk__in=[r.pk for r in reservations]).update(
        state=to_state, updated_at=timezone.now()
    )
    StockMovement.objects.bulk_create(
        StockMovement(
            stock_item_id=reservation.stock_item_id,
            kind=kind,
            delta_on_hand=-reservation.quantity if take_on_hand else 0,
            delta_reserved=-reservation.quantity,
            reference=reference,
            actor=_actor(actor),
        )
        for reservation in reservations
    )
    _queue_alert_evaluation(per_item)
    return len(reservations)


@transaction.atomic
def reservations_commit(*, reference: str, actor=None) -> int:
    """Turn the reference's active reservations into sales (on payment); return how many."""
    return _reservations_close(
        reference=reference,
        to_state=Reservation.State.COMMITTED,
        kind=StockMovement.Kind.COMMIT,
        take_on_hand=True,
        actor=actor,
    )


@transaction.atomic
def reservations_release(*, reference: str, actor=None) -> int:
    """Give the reference's active reservations back to the shelf (on cancel); return how many."""
    return _reservations_close(
        reference=reference,
        to_state=Reservation.State.RELEASED,
        kind=StockMovement.Kind.RELEASE,
        take_on_hand=False,
        actor=actor,
    )


@transaction.atomic
def reservations_expire(*, reference: str, now: datetime | None = None) -> int:
    """Expire the reference's overdue active reservations and tell listeners, in one transaction.

    `reservation_expired` is sent inside the transaction (only when something expired), so a
    receiver that fails rolls the release back too and the next run tries again.
    """
    expired = _reservations_close(
        reference=reference,
        to_state=Reservation.State.EXPIRED,
        kind=StockMovement.Kind.EXPIRY,
        take_on_hand=False,
        due_before=now or timezone.now(),
    )
    if expired:
        reservation_expired.send(sender=Reservation, reference=reference)
    return expired


def reservation_expiry_default() -> datetime:
    """Return when a reservation made now expires (RESERVATION_MINUTES from now)."""
    return timezone.now() + timedelta(minutes=settings.RESERVATION_MINUTES)
