"""Writes to stock. Every counter change writes its ledger row in the same transaction.

Locking rule (it is what keeps concurrent checkouts from deadlocking): a transaction locks
reservation rows first, then stock item rows, each in primary-key order. Counters are
changed with `F()` expressions on locked rows, and the CHECK constraints on StockItem are
the last line of defence: no code path can make `reserved` exceed `on_hand`.
"""

from collections import defaultdict
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from outbox.mail import mail_send_once
from outbox.services import task_enqueue

from .errors import (
    InsufficientStock,
    InvalidQuantity,
    InvalidReference,
    Shortage,
    StockItemExists,
)
from .models import Batch, Reservation, StockAlert, StockItem, StockMovement
from .signals import reservation_expired

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


# ------------------------------------------------------------------------------
# Stock levels
# ------------------------------------------------------------------------------


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


# ------------------------------------------------------------------------------
# Reservations
# ------------------------------------------------------------------------------


def _raise_if_short(demand: dict[int, int], items) -> None:
    """Raise InsufficientStock listing every line the items cannot serve."""
    available = {item.product_id: max(item.on_hand - item.reserved, 0) for item in items}
    shortages = [
        Shortage(product_id, requested, available.get(product_id, 0))
        for product_id, requested in sorted(demand.items())
        if requested > available.get(product_id, 0)
    ]
    if shortages:
        raise InsufficientStock(shortages)


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


# ------------------------------------------------------------------------------
# Alerts
# ------------------------------------------------------------------------------


def _alert_open(*, stock_item_id: int, kind: str, message: str) -> StockAlert | None:
    """Open an alert unless one of that kind is already unresolved; return it if new."""
    try:
        with transaction.atomic():
            alert = StockAlert.objects.create(
                stock_item_id=stock_item_id, kind=kind, message=message[:255]
            )
    except IntegrityError:
        return None  # a concurrent evaluation opened it first
    task_enqueue("inventory.tasks.stock_alert_notify", alert.pk)
    return alert


def _alert_close(*, stock_item_id: int, kind: str) -> int:
    return StockAlert.objects.filter(
        stock_item_id=stock_item_id, kind=kind, state__in=StockAlert.UNRESOLVED
    ).update(state=StockAlert.State.CLOSED, closed_at=timezone.now())


@transaction.atomic
def stock_alerts_evaluate(*, stock_item_ids=None, today: date | None = None) -> dict[str, int]:
    """Open and close low-stock, out-of-stock and batch-expiring alerts; return the counts.

    Hysteresis: low_stock opens at available <= threshold and out_of_stock at available == 0,
    and both close only once available rises above the threshold, so an item hovering around
    zero does not open and close alerts on every sale.
    """
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.BATCH_EXPIRY_WARNING_DAYS)
    items = StockItem.objects.select_related("product").order_by("pk")
    batches = Batch.objects.filter(expires_on__gte=today, expires_on__lte=horizon)
    alerts = StockAlert.objects.filter(state__in=StockAlert.UNRESOLVED)
    if stock_item_ids is not None:
        ids = list(stock_item_ids)
        items, batches = items.filter(pk__in=ids), batches.filter(stock_item_id__in=ids)
        alerts = alerts.filter(stock_item_id__in=ids)
    expiring = defaultdict(list)
    for batch in batches.order_by("expires_on", "pk"):
        expiring[batch.stock_item_id].append(batch)
    unresolved = set(alerts.values_list("stock_item_id", "kind"))
    counts = {"opened": 0, "closed": 0}

    def decide(item, kind, open_when, close_when, message):
        # Only changes cost a query: most items need nothing on most runs.
        is_unresolved = (item.pk, kind) in unresolved
        if open_when and not is_unresolved:
            counts["opened"] += (
                _alert_open(stock_item_id=item.pk, kind=kind, message=message) is not None
            )
        elif close_when and is_unresolved:
            counts["closed"] += _alert_close(stock_item_id=item.pk, kind=kind)

    kinds = StockAlert.Kind
    for item in items:
        available = item.on_hand - item.reserved
        above = available > item.low_stock_threshold
        name = item.product.name
        decide(
            item,
            kinds.OUT_OF_STOCK,
            available <= 0,
            above,
            f"{name} is out of stock.",
        )
        decide(
            item,
            kinds.LOW_STOCK,
            available <= item.low_stock_threshold,
            above,
            f"{name}: {max(available, 0)} available (threshold {item.low_stock_threshold}).",
        )
        batches = expiring.get(item.pk, []) if item.on_hand > 0 else []
        decide(
            item,
            kinds.BATCH_EXPIRING,
            bool(batches),
            not batches,
            f"{name}: batch "
            + ", ".join(f"{b.number} expires {b.expires_on.isoformat()}" for b in batches),
        )
    return counts


def stock_alert_acknowledge(*, alert: StockAlert, actor=None) -> StockAlert:
    """Mark an open alert as seen; acknowledging twice, or a closed alert, changes nothing."""
    StockAlert.objects.filter(pk=alert.pk, state=StockAlert.State.OPEN).update(
        state=StockAlert.State.ACKNOWLEDGED,
        acknowledged_at=timezone.now(),
        acknowledged_by=_actor(actor),
    )
    alert.refresh_from_db()
    return alert


def stock_alert_recipients() -> list[str]:
    """Return STOCK_ALERT_EMAILS, or every active staff member's email when it is empty."""
    if settings.STOCK_ALERT_EMAILS:
        return list(settings.STOCK_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("pk")
    return [email for email in users.values_list("email", flat=True) if email]


def stock_alert_notify(*, alert_id: int) -> bool:
    """Email staff about a newly opened alert, once; return True if this call sent it."""
    alert = (
        StockAlert.objects.select_related("stock_item__product")
        .filter(pk=alert_id, notified_at__isnull=True, state=StockAlert.State.OPEN)
        .first()
    )
    if alert is None:
        return False

    def build() -> EmailMessage | None:
        recipients = stock_alert_recipients()
        if not recipients:
            return None
        product = alert.stock_item.product
        return EmailMessage(
            subject=f"[{settings.SHOP_NAME}] {alert.get_kind_display()}: {product.name}",
            body=(
                f"{alert.message}\n\nSKU {product.sku}. "
                f"Stock: {settings.SITE_URL}/admin/inventory/stockitem/"
                f"{alert.stock_item_id}/change/\n"
            ),
            to=recipients,
        )

    return mail_send_once(
        key=f"inventory.alert:{alert_id}",
        build=build,
        on_sent=lambda: StockAlert.objects.filter(pk=alert_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ),
    )
