"""Report latency on a year of trading: 100,000 orders and 1,000,000 ledger rows, PostgreSQL.

Seeds a throwaway database (`<name>_bench_reports` beside DATABASE_URL's) with COPY, runs
VACUUM ANALYZE, then times each report (orders, payments, inventory) and the dashboard's
figures over a 30-day range (the default) and over the longest range allowed (366 days),
and prints the medians. Target: every median under 300 ms.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/reports.py
"""

import json
import random
import statistics
import sys
import time
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

from benchdb import django_on_fresh_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

ORDERS = 100_000
MOVEMENTS = 1_000_000
PRODUCTS = 2_000
CATEGORIES = 20
BATCHES = 5_000
DAYS = 365
RUNS = 15
TARGET_MS = 300


def _model_defaults(table: str, columns: tuple[str, ...]) -> dict[str, object]:
    """The model's defaults for the table's columns a COPY leaves out (model defaults are
    not database defaults, so a column added to a model later would otherwise be NULL)."""
    from django.apps import apps

    model = next(m for m in apps.get_models() if m._meta.db_table == table)
    defaults = {}
    for field in model._meta.concrete_fields:
        if field.column in columns or field.null or field.primary_key:
            continue
        value = field.get_default()  # "" for a text field without a default
        if value is None:
            continue
        defaults[field.column] = json.dumps(value) if isinstance(value, dict | list) else value
    return defaults


def _copy(cursor, table: str, columns: tuple[str, ...], rows) -> None:
    defaults = _model_defaults(table, columns)
    extra = tuple(defaults.values())
    names = ", ".join(columns + tuple(defaults))
    with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(tuple(row) + extra)


def _seed() -> None:
    from django.db import connection
    from django.utils import timezone

    from accounts.models import User
    from catalog.models import Category, Product
    from inventory.models import StockItem

    rng = random.Random(15)
    now = timezone.now()
    start = now - timedelta(days=DAYS)
    user = User.objects.create_user(email="bench@example.com", password="x" * 16)
    categories = Category.objects.bulk_create(
        Category(name=f"Category {n}", slug=f"category-{n}") for n in range(CATEGORIES)
    )
    products = Product.objects.bulk_create(
        Product(
            sku=f"SKU-{n:05d}",
            slug=f"product-{n}",
            name=f"Product {n}",
            category=categories[n % CATEGORIES],
            price=Decimal(rng.randint(100, 20_000)) / 100,
        )
        for n in range(PRODUCTS)
    )
    items = StockItem.objects.bulk_create(
        StockItem(product=p, on_hand=rng.randint(0, 500), low_stock_threshold=5) for p in products
    )
    prices = {p.pk: p.price for p in products}

    statuses = (
        ["delivered"] * 50
        + ["shipped"] * 8
        + ["paid"] * 6
        + ["processing"] * 4
        + ["cancelled"] * 10
        + ["expired"] * 12
        + ["pending_payment"] * 3
        + ["partially_refunded"] * 4
        + ["refunded"] * 3
    )
    with connection.cursor() as wrapper:
        cursor = wrapper.cursor
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM orders_order")
        order_rows, line_rows, payment_rows, refund_rows, fraud_rows = [], [], [], [], []
        payment_id = refund_id = 0
        for n in range(1, ORDERS + 1):
            placed = start + timedelta(seconds=rng.randint(0, DAYS * 86400))
            status = rng.choice(statuses)
            subtotal = Decimal("0.00")
            for _ in range(rng.randint(1, 3)):
                product = products[rng.randrange(PRODUCTS)]
                quantity = rng.randint(1, 4)
                line_total = prices[product.pk] * quantity
                subtotal += line_total
                line_rows.append(
                    (
                        n,
                        product.pk,
                        product.sku,
                        product.name,
                        prices[product.pk],
                        quantity,
                        line_total,
                    )
                )
            paid = (
                status in ("paid", "processing", "shipped", "delivered")
                or status
                in (
                    "partially_refunded",
                    "refunded",
                )
                or (status == "cancelled" and n % 2 == 0)
            )
            order_rows.append(
                (
                    n,
                    f"B{n:09d}",
                    user.pk,
                    user.email,
                    status,
                    subtotal,
                    Decimal("0.00"),
                    subtotal,
                    "EUR",
                    "{}",
                    placed,
                    placed + timedelta(minutes=2) if paid else None,
                    None,
                    placed,
                )
            )
            attempts = ["succeeded"] if paid else (["failed"] if n % 3 == 0 else [])
            if paid and n % 25 == 0:
                attempts.insert(0, "failed")
            if paid and n % 200 == 0:
                attempts[-1] = "review"
            for attempt in attempts:
                payment_id += 1
                refunded = Decimal("0.00")
                pay_status = attempt
                if attempt == "succeeded" and status in ("refunded", "cancelled"):
                    refunded, pay_status = subtotal, "refunded"
                elif attempt == "succeeded" and status == "partially_refunded":
                    refunded, pay_status = (
                        (subtotal / 2).quantize(Decimal("0.01")),
                        "partially_refunded",
                    )
                payment_rows.append(
                    (
                        payment_id,
                        n,
                        subtotal,
                        "EUR",
                        "dummy" if n % 4 else "stripe",
                        f"ref-{payment_id}",
                        "failed" if attempt == "failed" else "succeeded",
                        pay_status,
                        f"key-{payment_id}",
                        "0" * 64,
                        rng.randint(0, 90),
                        refunded,
                        "card_declined" if attempt == "failed" else "",
                        "",
                        placed,
                        placed,
                        None if attempt == "failed" else placed + timedelta(minutes=2),
                    )
                )
                decision = {"review": "review"}.get(attempt, "allow")
                if n % 200 == 0 and n % 400 == 0:
                    decision = "approved"
                fraud_rows.append((payment_id, rng.randint(0, 90), "[]", decision, placed))
                if refunded > 0:
                    refund_id += 1
                    refund_rows.append(
                        (
                            refund_id,
                            payment_id,
                            refunded,
                            "Bench refund",
                            False,
                            "{}",
                            "succeeded",
                            status == "cancelled",
                            f"rf-{refund_id}",
                            placed + timedelta(days=3),
                            placed + timedelta(days=3),
                        )
                    )
        _copy(
            cursor,
            "orders_order",
            (
                "id",
                "number",
                "user_id",
                "email",
                "status",
                "subtotal",
                "shipping",
                "total",
                "currency",
                "shipping_address",
                "placed_at",
                "paid_at",
                "reservation_expires_at",
                "updated_at",
            ),
            order_rows,
        )
        _copy(
            cursor,
            "orders_orderline",
            ("order_id", "product_id", "sku", "name", "unit_price", "quantity", "line_total"),
            line_rows,
        )
        _copy(
            cursor,
            "payments_payment",
            (
                "id",
                "order_id",
                "amount",
                "currency",
                "gateway",
                "gateway_reference",
                "gateway_status",
                "status",
                "idempotency_key",
                "request_hash",
                "risk_score",
                "refunded_amount",
                "failure_code",
                "failure_message",
                "created_at",
                "updated_at",
                "settled_at",
            ),
            payment_rows,
        )
        _copy(
            cursor,
            "payments_refund",
            (
                "id",
                "payment_id",
                "amount",
                "reason",
                "restock",
                "restocked_lines",
                "status",
                "automatic",
                "gateway_reference",
                "created_at",
                "updated_at",
            ),
            refund_rows,
        )
        _copy(
            cursor,
            "payments_fraudcheck",
            ("payment_id", "score", "rules_hit", "decision", "created_at"),
            fraud_rows,
        )
        kinds = (
            ["commit"] * 40
            + ["reservation"] * 30
            + ["release"] * 15
            + ["receipt"] * 8
            + ["adjustment"] * 4
            + ["return"] * 3
        )
        item_ids = [item.pk for item in items]

        def movements():
            for _ in range(MOVEMENTS):
                kind = rng.choice(kinds)
                quantity = rng.randint(1, 5)
                delta_on_hand, delta_reserved = {
                    "commit": (-quantity, -quantity),
                    "reservation": (0, quantity),
                    "release": (0, -quantity),
                    "receipt": (quantity * 10, 0),
                    "adjustment": (rng.choice((-1, 1)) * quantity, 0),
                    "return": (quantity, 0),
                }[kind]
                yield (
                    rng.choice(item_ids),
                    kind,
                    delta_on_hand,
                    delta_reserved,
                    "",
                    "",
                    start + timedelta(seconds=rng.randint(0, DAYS * 86400)),
                )

        _copy(
            cursor,
            "inventory_stockmovement",
            (
                "stock_item_id",
                "kind",
                "delta_on_hand",
                "delta_reserved",
                "reference",
                "note",
                "created_at",
            ),
            movements(),
        )
        today = timezone.localdate()
        _copy(
            cursor,
            "inventory_batch",
            ("stock_item_id", "number", "expires_on", "quantity_received", "received_at"),
            (
                (
                    item_ids[n % PRODUCTS],
                    f"BATCH-{n}",
                    today + timedelta(days=rng.randint(-200, 400)),
                    rng.randint(10, 100),
                    start,
                )
                for n in range(BATCHES)
            ),
        )
        for table in ("orders_order", "payments_payment", "payments_refund"):
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )
    connection.close()
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        host=db["HOST"],
        port=db["PORT"] or 5432,
        password=db["PASSWORD"] or None,
        autocommit=True,
    ) as conn:
        conn.execute("VACUUM ANALYZE")


def _median_ms(fn) -> float:
    fn()  # warm up
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    django_on_fresh_database("reports")
    started = time.perf_counter()
    _seed()
    from inventory.models import StockMovement
    from orders.models import Order
    from reports import selectors

    print(
        f"seeded {Order.objects.count():,} orders and {StockMovement.objects.count():,} "
        f"ledger rows in {time.perf_counter() - started:.0f} s"
    )
    results = []
    for days in (30, 366):
        date_range = selectors.DateRange.last_days(days)
        checks = {
            "orders report": lambda r=date_range: selectors.order_report(date_range=r),
            "payments report": lambda r=date_range: selectors.payment_report(date_range=r),
            "inventory report": lambda r=date_range: selectors.inventory_report(date_range=r),
        }
        for name, fn in checks.items():
            results.append((f"{name}, {days} days", _median_ms(fn)))
    results.append(("dashboard sales (today/7/30 days)", _median_ms(selectors.dashboard_sales)))
    results.append(
        (
            "dashboard sales per day + top products",
            _median_ms(
                lambda: (
                    selectors.sales_per_day(date_range=selectors.DateRange.last_days(30)),
                    selectors.top_products(date_range=selectors.DateRange.last_days(30)),
                )
            ),
        )
    )
    worst = 0.0
    for name, ms in results:
        worst = max(worst, ms)
        print(f"{name:45s} median {ms:7.1f} ms")
    print(
        f"slowest median {worst:.1f} ms (target < {TARGET_MS} ms): "
        + ("OK" if worst < TARGET_MS else "TOO SLOW")
    )


if __name__ == "__main__":
    main()
