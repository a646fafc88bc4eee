"""The reports: order, payment and stock figures over a date range, aggregated in SQL.

Each report is a `Report`: a few headline figures (`summary`) and named tables. The API
answers it as JSON, the CSV download and the admin pages render the same structure, so
every output shows the same numbers. Each report runs a fixed number of queries, whatever
the number of rows behind it.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.conf import settings
from django.db.models import (
    Count,
    DecimalField,
    ExpressionWrapper,
    F,
    IntegerField,
    Max,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from inventory.models import Batch, StockAlert, StockItem, StockMovement
from orders.models import Order, OrderLine, OrderStatus
from payments.models import CAPTURED_STATUSES, FraudCheck, Payment, PaymentStatus, Refund

from .errors import InvalidDateRange

ZERO = Decimal("0.00")
MAX_RANGE_DAYS = 366
DEFAULT_RANGE_DAYS = 30
MAX_EXPIRING_DAYS = 365
TOP_LIMIT = 10
LIST_LIMIT = 200

# Orders that were paid for (whatever happened to them afterwards).
SOLD_STATUSES = (
    OrderStatus.PAID,
    OrderStatus.PROCESSING,
    OrderStatus.SHIPPED,
    OrderStatus.DELIVERED,
    OrderStatus.PARTIALLY_REFUNDED,
    OrderStatus.REFUNDED,
)
# Refunds that gave (or are giving) money back: all but the refused ones.
REFUND_COUNTED = ~Q(status=Refund.Status.FAILED)


# ------------------------------------------------------------------------------
# Date ranges and the report structure
# ------------------------------------------------------------------------------
def _today() -> date:
    return timezone.localdate()


def _midnight(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


@dataclass(frozen=True)
class DateRange:
    """Whole days from `start` to `end`, both included, in the shop's time zone."""

    start: date
    end: date

    @property
    def since(self) -> datetime:
        return _midnight(self.start)

    @property
    def until(self) -> datetime:
        return _midnight(self.end + timedelta(days=1))

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    def previous(self) -> "DateRange":
        """Return the range of the same length just before this one."""
        end = self.start - timedelta(days=1)
        return DateRange(start=end - timedelta(days=self.days - 1), end=end)

    @classmethod
    def last_days(cls, days: int, *, today: date | None = None) -> "DateRange":
        today = today or _today()
        return cls(start=today - timedelta(days=days - 1), end=today)


def _parse_day(value: str, name: str) -> date:
    try:
        return date.fromisoformat(value.strip())
    except ValueError:
        raise InvalidDateRange(f"{name}: enter a date as YYYY-MM-DD.") from None


def date_range_parse(*, start: str | None, end: str | None, today: date | None = None) -> DateRange:
    """Return the range asked for; by default the last 30 days up to today."""
    today = today or _today()
    end_day = _parse_day(end, "end") if end else today
    start_day = (
        _parse_day(start, "start") if start else end_day - timedelta(days=DEFAULT_RANGE_DAYS - 1)
    )
    if start_day > end_day:
        raise InvalidDateRange("start must not be after end.")
    if end_day >= date.max - timedelta(days=1) or start_day <= date.min + timedelta(days=1):
        raise InvalidDateRange("Enter a date between the years 1 and 9999.")
    if (end_day - start_day).days + 1 > MAX_RANGE_DAYS:
        raise InvalidDateRange(f"A report covers at most {MAX_RANGE_DAYS} days.")
    return DateRange(start=start_day, end=end_day)


def expiring_days_parse(value: str | None) -> int:
    if value in (None, ""):
        return settings.BATCH_EXPIRY_WARNING_DAYS
    try:
        days = int(value)
    except (TypeError, ValueError):
        raise InvalidDateRange("expiring_days: enter a whole number of days.") from None
    if not 0 <= days <= MAX_EXPIRING_DAYS:
        raise InvalidDateRange(f"expiring_days: from 0 to {MAX_EXPIRING_DAYS}.")
    return days


@dataclass
class Table:
    name: str
    title: str
    columns: list[tuple[str, str]]  # (key, label)
    rows: list[dict]


@dataclass
class Report:
    name: str
    title: str
    range: DateRange
    summary: list[tuple[str, str, object]] = field(default_factory=list)  # (key, label, value)
    tables: list[Table] = field(default_factory=list)
    params: dict = field(default_factory=dict)

    def table(self, name: str) -> Table:
        return next(t for t in self.tables if t.name == name)

    def as_dict(self) -> dict:
        """Return the report for JSON: money and rates as decimal strings, days as ISO dates."""
        return {
            "report": self.name,
            "start": self.range.start.isoformat(),
            "end": self.range.end.isoformat(),
            **self.params,
            "summary": {key: _plain(value) for key, _, value in self.summary},
            **{
                t.name: [{k: _plain(v) for k, v in row.items()} for row in t.rows]
                for t in self.tables
            },
        }


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


def _rate(part, whole) -> Decimal | None:
    """Return part/whole as a percentage with one decimal, None when there is no whole."""
    if not whole:
        return None
    return (Decimal(part) * 100 / Decimal(whole)).quantize(Decimal("0.1"))


def _money(value) -> Decimal:
    return (value or ZERO).quantize(Decimal("0.01"))


def _day():
    return TruncDate("placed_at", tzinfo=timezone.get_current_timezone())


# ------------------------------------------------------------------------------
# Orders
# ------------------------------------------------------------------------------
DELETED_PRODUCTS = "(products since deleted)"


def _top_lines(queryset, fields: tuple = (), limit: int = TOP_LIMIT, **expressions) -> list[dict]:
    """Units and revenue per group of order lines, best sellers first."""
    return list(
        queryset.values(*fields, **expressions)
        .annotate(units=Sum("quantity"), revenue=Sum("line_total"), orders=Count("order_id"))
        .order_by("-revenue", *fields, *expressions)[:limit]
    )


def _rank(groups: list[dict], keys: tuple[str, ...], limit: int) -> list[dict]:
    """Sum grouped line figures by `keys`; return the best sellers by revenue."""
    totals: dict[tuple, dict] = {}
    for row in groups:
        key = tuple(row[k] for k in keys)
        total = totals.setdefault(
            key, {**dict(zip(keys, key, strict=True)), "units": 0, "orders": 0, "revenue": ZERO}
        )
        total["units"] += row["units"]
        total["orders"] += row["orders"]
        total["revenue"] += row["revenue"]
    ranked = sorted(totals.values(), key=lambda t: (-t["revenue"], *(str(t[k]) for k in keys)))
    return ranked[:limit]


def order_report(*, date_range: DateRange, limit: int = TOP_LIMIT) -> Report:
    """Orders per day and status, AOV, cancellation and expiry rates, top products/categories."""
    orders = Order.objects.filter(placed_at__gte=date_range.since, placed_at__lt=date_range.until)
    per_day = list(
        orders.annotate(day=_day())
        .values("day", "status")
        .annotate(orders=Count("id"), total=Sum("total"))
        .order_by("day", "status")
    )
    placed = sum(row["orders"] for row in per_day)
    sold_rows = [row for row in per_day if row["status"] in SOLD_STATUSES]
    sold = sum(row["orders"] for row in sold_rows)
    sales = _money(sum((row["total"] for row in sold_rows), ZERO))
    by_status = {}
    for row in per_day:
        by_status[row["status"]] = by_status.get(row["status"], 0) + row["orders"]
        row["total"] = _money(row["total"])

    lines = OrderLine.objects.filter(
        order__placed_at__gte=date_range.since,
        order__placed_at__lt=date_range.until,
        order__status__in=SOLD_STATUSES,
    )
    # One pass over the lines, grouped by product (an integer key the planner hashes: over a
    # year, grouping by the lines' text snapshots sorted 150,000 rows); each product's
    # category comes along as an aggregate. Ranked by product and by category below.
    groups = list(
        lines.values("product_id").annotate(
            sku=Max("sku"),
            name=Max("name"),
            category=Coalesce(Max("product__category__name"), Value("(none)")),
            units=Sum("quantity"),
            revenue=Sum("line_total"),
            orders=Count("order_id"),
        )
    )
    for group in groups:
        if group["product_id"] is None:  # lines whose product was deleted since: one row
            group["sku"], group["name"] = "", DELETED_PRODUCTS
    top_products = _rank(groups, ("sku", "name"), limit)
    top_categories = _rank(groups, ("category",), limit)
    return Report(
        name="orders",
        title="Orders",
        range=date_range,
        summary=[
            ("orders_placed", "Orders placed", placed),
            ("orders_paid", "Orders paid", sold),
            ("sales", "Sales (paid orders)", sales),
            ("average_order_value", "Average order value", _money(sales / sold) if sold else None),
            (
                "cancellation_rate",
                "Cancelled (% of placed)",
                _rate(by_status.get(OrderStatus.CANCELLED, 0), placed),
            ),
            (
                "expiry_rate",
                "Expired unpaid (% of placed)",
                _rate(by_status.get(OrderStatus.EXPIRED, 0), placed),
            ),
        ],
        tables=[
            Table(
                "per_day",
                "Orders per day and status",
                [("day", "Day"), ("status", "Status"), ("orders", "Orders"), ("total", "Total")],
                per_day,
            ),
            Table(
                "by_status",
                "Orders by status",
                [("status", "Status"), ("orders", "Orders"), ("share", "% of placed")],
                [
                    {"status": status, "orders": count, "share": _rate(count, placed)}
                    for status, count in sorted(by_status.items(), key=lambda kv: -kv[1])
                ],
            ),
            Table(
                "top_products",
                "Top products (paid orders)",
                [
                    ("sku", "SKU"),
                    ("name", "Product"),
                    ("units", "Units"),
                    ("orders", "Lines"),
                    ("revenue", "Revenue"),
                ],
                top_products,
            ),
            Table(
                "top_categories",
                "Top categories (paid orders)",
                [
                    ("category", "Category"),
                    ("units", "Units"),
                    ("orders", "Lines"),
                    ("revenue", "Revenue"),
                ],
                top_categories,
            ),
        ],
    )


# ------------------------------------------------------------------------------
# Payments
# ------------------------------------------------------------------------------
def payment_report(*, date_range: DateRange) -> Report:
    """Captured, refunded and declined money per gateway; refunds; fraud reviews and outcomes."""
    captured = Q(status__in=CAPTURED_STATUSES)
    declined = Q(status=PaymentStatus.FAILED)
    payments = Payment.objects.filter(
        created_at__gte=date_range.since, created_at__lt=date_range.until
    )
    per_gateway = list(
        payments.values("gateway")
        .annotate(
            attempts=Count("id"),
            captured=Count("id", filter=captured),
            captured_amount=Coalesce(Sum("amount", filter=captured), ZERO),
            refunded_amount=Coalesce(Sum("refunded_amount", filter=captured), ZERO),
            declined=Count("id", filter=declined),
            in_review=Count("id", filter=Q(status=PaymentStatus.REVIEW)),
        )
        .order_by("gateway")
    )
    for row in per_gateway:
        row["decline_rate"] = _rate(row["declined"], row["captured"] + row["declined"])
    refunds = list(
        Refund.objects.filter(created_at__gte=date_range.since, created_at__lt=date_range.until)
        .values("status", "automatic")
        .annotate(refunds=Count("id"), amount=Sum("amount"))
        .order_by("status", "automatic")
    )
    fraud = list(
        FraudCheck.objects.filter(created_at__gte=date_range.since, created_at__lt=date_range.until)
        .values("decision")
        .annotate(checks=Count("id"), reviewed=Count("id", filter=Q(reviewed_at__isnull=False)))
        .order_by("decision")
    )
    per_day = list(
        payments.filter(captured)
        .annotate(day=TruncDate("created_at", tzinfo=timezone.get_current_timezone()))
        .values("day")
        .annotate(payments=Count("id"), amount=Sum("amount"))
        .order_by("day")
    )
    total_captured = _money(sum((r["captured_amount"] for r in per_gateway), ZERO))
    captured_count = sum(r["captured"] for r in per_gateway)
    declined_count = sum(r["declined"] for r in per_gateway)
    refunded = _money(
        sum(
            (r["amount"] for r in refunds if r["status"] != Refund.Status.FAILED),
            ZERO,
        )
    )
    by_decision = {r["decision"]: r["checks"] for r in fraud}
    flagged = sum(
        by_decision.get(d, 0)
        for d in (
            FraudCheck.Decision.REVIEW,
            FraudCheck.Decision.APPROVED,
            FraudCheck.Decision.REJECTED,
        )
    )
    return Report(
        name="payments",
        title="Payments",
        range=date_range,
        summary=[
            ("attempts", "Payment attempts", sum(r["attempts"] for r in per_gateway)),
            ("captured", "Payments captured", captured_count),
            ("captured_amount", "Money captured", total_captured),
            ("refunded_amount", "Money refunded", refunded),
            ("net_amount", "Net of refunds", _money(total_captured - refunded)),
            ("declined", "Payments declined", declined_count),
            (
                "decline_rate",
                "Decline rate (%)",
                _rate(declined_count, captured_count + declined_count),
            ),
            ("fraud_flagged", "Sent to fraud review", flagged),
            (
                "fraud_approved",
                "Approved in review",
                by_decision.get(FraudCheck.Decision.APPROVED, 0),
            ),
            (
                "fraud_rejected",
                "Rejected in review",
                by_decision.get(FraudCheck.Decision.REJECTED, 0),
            ),
            (
                "fraud_pending",
                "Still waiting for review",
                by_decision.get(FraudCheck.Decision.REVIEW, 0),
            ),
        ],
        tables=[
            Table(
                "per_gateway",
                "Per gateway",
                [
                    ("gateway", "Gateway"),
                    ("attempts", "Attempts"),
                    ("captured", "Captured"),
                    ("captured_amount", "Captured amount"),
                    ("refunded_amount", "Refunded amount"),
                    ("declined", "Declined"),
                    ("decline_rate", "Decline rate (%)"),
                    ("in_review", "In review"),
                ],
                per_gateway,
            ),
            Table(
                "per_day",
                "Captured per day",
                [("day", "Day"), ("payments", "Payments"), ("amount", "Amount")],
                per_day,
            ),
            Table(
                "refunds",
                "Refunds",
                [
                    ("status", "Status"),
                    ("automatic", "Automatic"),
                    ("refunds", "Refunds"),
                    ("amount", "Amount"),
                ],
                refunds,
            ),
            Table(
                "fraud",
                "Fraud checks by outcome",
                [("decision", "Decision"), ("checks", "Checks"), ("reviewed", "Reviewed by staff")],
                fraud,
            ),
        ],
    )


# ------------------------------------------------------------------------------
# Inventory
# ------------------------------------------------------------------------------
def _available():
    return ExpressionWrapper(F("on_hand") - F("reserved"), output_field=IntegerField())


def inventory_report(
    *, date_range: DateRange, expiring_days: int | None = None, today: date | None = None
) -> Report:
    """Stock on hand and value, low/out-of-stock items, movements, turnover, expiring batches."""
    today = today or _today()
    expiring_days = settings.BATCH_EXPIRY_WARNING_DAYS if expiring_days is None else expiring_days
    items = StockItem.objects.annotate(available_units=_available())
    low = Q(available_units__gt=0, available_units__lte=F("low_stock_threshold"))
    out = Q(available_units__lte=0)
    totals = items.aggregate(
        items=Count("id"),
        units_on_hand=Coalesce(Sum("on_hand"), 0),
        units_reserved=Coalesce(Sum("reserved"), 0),
        value=Coalesce(
            Sum(
                F("on_hand") * F("product__price"),
                output_field=DecimalField(max_digits=20, decimal_places=2),
            ),
            ZERO,
        ),
        low_count=Count("id", filter=low),
        out_count=Count("id", filter=out),
    )
    short = list(
        items.filter(low | out)
        .order_by("available_units", "product__name", "id")
        .values(
            "on_hand",
            "reserved",
            "available_units",
            "low_stock_threshold",
            sku=F("product__sku"),
            name=F("product__name"),
        )[:LIST_LIMIT]
    )
    for row in short:
        row["state"] = "out of stock" if row["available_units"] <= 0 else "low"

    movements, turnover = _ledger_figures(date_range)
    batches = list(
        Batch.objects.filter(
            expires_on__gte=today, expires_on__lte=today + timedelta(days=expiring_days)
        )
        .order_by("expires_on", "id")
        .values(
            "number",
            "expires_on",
            "quantity_received",
            sku=F("stock_item__product__sku"),
            name=F("stock_item__product__name"),
            on_hand=F("stock_item__on_hand"),
        )[:LIST_LIMIT]
    )
    return Report(
        name="inventory",
        title="Inventory",
        range=date_range,
        params={"expiring_days": expiring_days},
        summary=[
            ("items", "Stock items", totals["items"]),
            ("on_hand", "Units on hand", totals["units_on_hand"]),
            ("reserved", "Units reserved", totals["units_reserved"]),
            ("stock_value", "Stock value at current prices", _money(totals["value"])),
            ("low_stock", "Low on stock", totals["low_count"]),
            ("out_of_stock", "Out of stock", totals["out_count"]),
            ("batches_expiring", f"Batches expiring within {expiring_days} days", len(batches)),
        ],
        tables=[
            Table(
                "short",
                "Low and out of stock",
                [
                    ("sku", "SKU"),
                    ("name", "Product"),
                    ("on_hand", "On hand"),
                    ("reserved", "Reserved"),
                    ("available_units", "Available"),
                    ("low_stock_threshold", "Threshold"),
                    ("state", "State"),
                ],
                short,
            ),
            Table(
                "movements",
                "Ledger movements by kind",
                [
                    ("kind", "Kind"),
                    ("movements", "Movements"),
                    ("on_hand", "On hand change"),
                    ("reserved", "Reserved change"),
                ],
                movements,
            ),
            Table(
                "turnover",
                "Turnover per product (units sold / average units on hand)",
                [
                    ("sku", "SKU"),
                    ("name", "Product"),
                    ("units_sold", "Units sold"),
                    ("average_on_hand", "Average on hand"),
                    ("turnover", "Turnover"),
                ],
                turnover,
            ),
            Table(
                "expiring_batches",
                f"Batches expiring within {expiring_days} days",
                [
                    ("number", "Batch"),
                    ("sku", "SKU"),
                    ("name", "Product"),
                    ("expires_on", "Expires on"),
                    ("quantity_received", "Received"),
                    ("on_hand", "Item on hand"),
                ],
                batches,
            ),
        ],
    )


def _ledger_figures(date_range: DateRange, limit: int = TOP_LIMIT * 2):
    """Return (movements by kind, turnover per product) from one pass over the ledger.

    The ledger rows since the range's start are summed per stock item and kind (an
    index-only scan of the covering index). Turnover is the units sold in the range against
    the average stock over it; the stock at the start and at the end of the range is worked
    back from today's count and the rows written since. Only the best sellers are joined to
    their products.
    """
    before_end = Q(created_at__lt=date_range.until)
    rows = (
        StockMovement.objects.filter(created_at__gte=date_range.since)
        .values("stock_item_id", "kind")
        .annotate(
            movements=Count("kind", filter=before_end),
            on_hand=Coalesce(Sum("delta_on_hand", filter=before_end), 0),
            reserved=Coalesce(Sum("delta_reserved", filter=before_end), 0),
            since_start=Sum("delta_on_hand"),
        )
        .order_by()
    )
    by_kind: dict[str, dict] = {}
    per_item: dict[int, dict] = {}
    for row in rows:
        kind = by_kind.setdefault(
            row["kind"], {"kind": row["kind"], "movements": 0, "on_hand": 0, "reserved": 0}
        )
        for name in ("movements", "on_hand", "reserved"):
            kind[name] += row[name]
        item = per_item.setdefault(row["stock_item_id"], {"sold": 0, "start": 0, "end": 0})
        item["start"] += row["since_start"]
        item["end"] += row["since_start"] - row["on_hand"]
        if row["kind"] == StockMovement.Kind.COMMIT:
            item["sold"] -= row["on_hand"]
    movements = [by_kind[k] for k in sorted(by_kind) if by_kind[k]["movements"]]
    best = sorted(
        ((pk, f) for pk, f in per_item.items() if f["sold"] > 0),
        key=lambda pair: (-pair[1]["sold"], pair[0]),
    )[:limit]
    items = {
        item["pk"]: item
        for item in StockItem.objects.filter(pk__in=[pk for pk, _ in best]).values(
            "pk", "on_hand", sku=F("product__sku"), name=F("product__name")
        )
    }
    turnover = []
    for pk, figures in best:
        item = items[pk]
        average = Decimal(2 * item["on_hand"] - figures["start"] - figures["end"]) / 2
        turnover.append(
            {
                "sku": item["sku"],
                "name": item["name"],
                "units_sold": figures["sold"],
                "average_on_hand": average.quantize(Decimal("0.1")),
                "turnover": (
                    (Decimal(figures["sold"]) / average).quantize(Decimal("0.01"))
                    if average > 0
                    else None
                ),
            }
        )
    return movements, turnover


# ------------------------------------------------------------------------------
# The dashboard
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PeriodFigures:
    label: str
    sales: Decimal
    orders: int
    average_order_value: Decimal | None
    previous_sales: Decimal
    previous_orders: int
    previous_average_order_value: Decimal | None

    @staticmethod
    def _change(now, before):
        if now is None or not before:
            return None
        return ((Decimal(now) - Decimal(before)) * 100 / Decimal(before)).quantize(Decimal("0.1"))

    @property
    def sales_change(self):
        return self._change(self.sales, self.previous_sales)

    @property
    def orders_change(self):
        return self._change(self.orders, self.previous_orders)

    @property
    def average_order_value_change(self):
        return self._change(self.average_order_value, self.previous_average_order_value)


DASHBOARD_PERIODS = (("Today", 1), ("Last 7 days", 7), ("Last 30 days", 30))


def dashboard_sales(*, today: date | None = None) -> list[PeriodFigures]:
    """Sales net of refunds, paid orders and AOV for today / 7 / 30 days and the period before.

    Two queries: one over orders, one over refunds, each with a conditional sum per window.
    """
    today = today or _today()
    windows = []
    for label, days in DASHBOARD_PERIODS:
        current = DateRange.last_days(days, today=today)
        windows.append((label, current, current.previous()))
    earliest = min(previous.since for _, _, previous in windows)

    def window_q(prefix: str, date_range: DateRange) -> Q:
        return Q(**{f"{prefix}__gte": date_range.since, f"{prefix}__lt": date_range.until})

    order_aggregates, refund_aggregates = {}, {}
    for index, (_, current, previous) in enumerate(windows):
        for side, date_range in (("c", current), ("p", previous)):
            q = window_q("placed_at", date_range)
            order_aggregates[f"n{side}{index}"] = Count("id", filter=q)
            order_aggregates[f"s{side}{index}"] = Coalesce(Sum("total", filter=q), ZERO)
            refund_aggregates[f"r{side}{index}"] = Coalesce(
                Sum("amount", filter=window_q("created_at", date_range)), ZERO
            )
    # Every order that was paid, cancelled since or not: its refund is subtracted below.
    orders = Order.objects.filter(placed_at__gte=earliest, paid_at__isnull=False).aggregate(
        **order_aggregates
    )
    refunds = Refund.objects.filter(REFUND_COUNTED, created_at__gte=earliest).aggregate(
        **refund_aggregates
    )
    figures = []
    for index, (label, _, _) in enumerate(windows):
        values = {}
        for side in ("c", "p"):
            count = orders[f"n{side}{index}"]
            gross = orders[f"s{side}{index}"]
            values[side] = (
                _money(gross - refunds[f"r{side}{index}"]),
                count,
                _money(gross / count) if count else None,
            )
        figures.append(PeriodFigures(label, *values["c"], *values["p"]))
    return figures


def sales_per_day(*, date_range: DateRange) -> list[tuple[date, Decimal]]:
    """Paid orders' totals per day of the range, every day present (0 on quiet days)."""
    rows = dict(
        Order.objects.filter(
            placed_at__gte=date_range.since,
            placed_at__lt=date_range.until,
            status__in=SOLD_STATUSES,
        )
        .annotate(day=_day())
        .values("day")
        .annotate(total=Sum("total"))
        .values_list("day", "total")
    )
    days = (date_range.start + timedelta(days=n) for n in range(date_range.days))
    return [(day, _money(rows.get(day))) for day in days]


def top_products(*, date_range: DateRange, limit: int = 5) -> list[dict]:
    lines = OrderLine.objects.filter(
        order__placed_at__gte=date_range.since,
        order__placed_at__lt=date_range.until,
        order__status__in=SOLD_STATUSES,
    )
    return _top_lines(lines, ("sku", "name"), limit)


STUCK_PAYMENT_AFTER = timedelta(minutes=15)
# A payment whose gateway call has not come back: `processing` once payments move money in
# phases, `pending` before that.
STUCK_PAYMENT_STATUS = getattr(PaymentStatus, "PROCESSING", PaymentStatus.PENDING)


def attention_counts(*, include: Iterable[str], now: datetime | None = None) -> dict[str, int]:
    """Counts of what needs a person now; `include` names the ones the viewer may see."""
    now = now or timezone.now()
    today = timezone.localdate(now)
    queries = {
        "orders_to_ship": lambda: Order.objects.filter(
            status__in=(OrderStatus.PAID, OrderStatus.PROCESSING)
        ).count(),
        "payments_in_review": lambda: Payment.objects.filter(status=PaymentStatus.REVIEW).count(),
        "payments_stuck": lambda: Payment.objects.filter(
            status=STUCK_PAYMENT_STATUS, created_at__lt=now - STUCK_PAYMENT_AFTER
        ).count(),
        "stock_alerts_open": lambda: StockAlert.objects.filter(state=StockAlert.State.OPEN).count(),
        "batches_expiring": lambda: Batch.objects.filter(
            expires_on__gte=today,
            expires_on__lte=today + timedelta(days=settings.BATCH_EXPIRY_WARNING_DAYS),
        ).count(),
    }
    return {name: queries[name]() for name in queries if name in set(include)}


REPORTS = {
    "orders": "Orders",
    "payments": "Payments",
    "inventory": "Inventory",
}


def report_build(*, name: str, params) -> Report:
    """Return the named report for query parameters (start, end, expiring_days)."""
    date_range = date_range_parse(start=params.get("start"), end=params.get("end"))
    if name == "orders":
        return order_report(date_range=date_range)
    if name == "payments":
        return payment_report(date_range=date_range)
    if name == "inventory":
        return inventory_report(
            date_range=date_range, expiring_days=expiring_days_parse(params.get("expiring_days"))
        )
    raise KeyError(name)
