"""Reads of stock: availability, levels, the ledger, alerts and ledger checks."""

from dataclasses import dataclass

from django.db.models import F, IntegerField, OuterRef, QuerySet, Subquery, Sum, Value
from django.db.models.functions import Coalesce

from .models import Reservation, StockAlert, StockItem, StockMovement


def stock_available(*, product_ids) -> dict[int, int]:
    """Return product id -> units available (on_hand - reserved); 0 for products without stock."""
    ids = [int(pk) for pk in product_ids]
    found = dict(
        StockItem.objects.filter(product_id__in=ids).values_list(
            "product_id", F("on_hand") - F("reserved")
        )
    )
    return {pk: max(found.get(pk, 0), 0) for pk in ids}


def stock_item_list(*, low: bool | None = None) -> QuerySet[StockItem]:
    """Stock items with their product and `available_units`; `low=True`: at or below threshold."""
    queryset = (
        StockItem.objects.select_related("product")
        .annotate(available_units=F("on_hand") - F("reserved"))
        .order_by("product__name", "id")
    )
    if low is True:
        queryset = queryset.filter(available_units__lte=F("low_stock_threshold"))
    elif low is False:
        queryset = queryset.filter(available_units__gt=F("low_stock_threshold"))
    return queryset


def stock_movement_list(*, product_id: int | None = None) -> QuerySet[StockMovement]:
    queryset = StockMovement.objects.select_related("stock_item", "actor").order_by(
        "-created_at", "-id"
    )
    if product_id is not None:
        queryset = queryset.filter(stock_item__product_id=product_id)
    return queryset


def stock_alert_list(*, state: str | None = None) -> QuerySet[StockAlert]:
    queryset = StockAlert.objects.select_related("stock_item").order_by("-opened_at", "-id")
    if state:
        queryset = queryset.filter(state=state)
    return queryset


@dataclass(frozen=True)
class LedgerDiscrepancy:
    """A stock item whose counters disagree with its ledger or its active reservations."""

    stock_item_id: int
    product_id: int
    on_hand: int
    reserved: int
    ledger_on_hand: int
    ledger_reserved: int
    active_reserved: int

    def describe(self) -> str:
        return (
            f"stock item {self.stock_item_id} (product {self.product_id}): "
            f"on_hand {self.on_hand} vs ledger {self.ledger_on_hand}, "
            f"reserved {self.reserved} vs ledger {self.ledger_reserved} "
            f"vs active reservations {self.active_reserved}"
        )


def stock_ledger_discrepancies() -> list[LedgerDiscrepancy]:
    """Return each stock item whose counters differ from its ledger sums or reservations."""

    def total(model, field, **filters):
        rows = (
            model.objects.filter(stock_item=OuterRef("pk"), **filters)
            .order_by()
            .values("stock_item")
            .annotate(total=Sum(field))
            .values("total")
        )
        return Coalesce(Subquery(rows, output_field=IntegerField()), Value(0))

    rows = (
        StockItem.objects.annotate(
            ledger_on_hand=total(StockMovement, "delta_on_hand"),
            ledger_reserved=total(StockMovement, "delta_reserved"),
            active_reserved=total(Reservation, "quantity", state=Reservation.State.ACTIVE),
        )
        .order_by("pk")
        .values_list(
            "pk",
            "product_id",
            "on_hand",
            "reserved",
            "ledger_on_hand",
            "ledger_reserved",
            "active_reserved",
        )
    )
    return [
        LedgerDiscrepancy(*row)
        for row in rows
        if not (row[2] == row[4] and row[3] == row[5] == row[6])
    ]


def reservation_references_due(*, now) -> list[str]:
    """Return the references that have active reservations past their expiry."""
    return list(
        Reservation.objects.filter(state=Reservation.State.ACTIVE, expires_at__lte=now)
        .order_by("reference")
        .values_list("reference", flat=True)
        .distinct()
    )
