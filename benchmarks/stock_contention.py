"""Stock contention on PostgreSQL: concurrent checkouts must sell exactly the stock, no more.

Round 1: one product with 20 units, 200 attempts to reserve 1 unit from parallel threads.
Round 2: 5 products, 200 multi-line baskets naming the products in random order (the order
that deadlocks a naive implementation). Prints successes, oversold units, deadlocks,
throughput and p95 latency, then checks the counters against the ledger. Exits non-zero when
anything oversold, deadlocked or drifted.

Runs in a throw-away database (`bench_stock_contention`, or TEST_DATABASE_NAME) on the server
of DATABASE_URL, e.g.:

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/stock_contention.py

BENCH_WORKERS (default 50) sets how many threads, each with its own connection, run at once.
"""

import os
import random
import statistics
import sys
import threading
import time
from collections import Counter
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django

django.setup()

import psycopg.errors  # noqa: E402
from django.db import OperationalError, connection, connections  # noqa: E402
from django.utils import timezone  # noqa: E402

from catalog.models import Product  # noqa: E402
from inventory import selectors, services, tasks  # noqa: E402
from inventory.errors import InsufficientStock  # noqa: E402
from inventory.models import Reservation, StockItem  # noqa: E402

ATTEMPTS = int(os.environ.get("BENCH_ATTEMPTS", "200"))
WORKERS = int(os.environ.get("BENCH_WORKERS", "50"))
STOCK = 20
PRODUCTS = 5


def _is_deadlock(exc: BaseException) -> bool:
    cause = exc.__cause__ or exc.__context__
    return isinstance(cause, psycopg.errors.DeadlockDetected) or "deadlock" in str(exc).lower()


def race(baskets: list[dict[int, int]], label: str) -> dict:
    """Reserve every basket from WORKERS threads at once; return the counts and timings."""
    outcomes, latencies = Counter(), []
    lock = threading.Lock()
    jobs = list(enumerate(baskets))
    start_line = threading.Barrier(WORKERS + 1)
    expires_at = timezone.now() + timedelta(minutes=15)

    def worker():
        connection.ensure_connection()
        start_line.wait()
        try:
            while True:
                with lock:
                    if not jobs:
                        return
                    n, lines = jobs.pop()
                began = time.perf_counter()
                try:
                    services.stock_reserve(
                        lines=lines, reference=f"{label}-{n}", expires_at=expires_at
                    )
                    outcome = "ok"
                except InsufficientStock:
                    outcome = "short"
                except OperationalError as exc:
                    outcome = "deadlock" if _is_deadlock(exc) else "error"
                elapsed = time.perf_counter() - began
                with lock:
                    outcomes[outcome] += 1
                    latencies.append(elapsed)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
    start_line.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - began
    latencies.sort()
    return {
        "outcomes": outcomes,
        "wall": wall,
        "throughput": len(baskets) / wall,
        "p50": statistics.median(latencies),
        "p95": latencies[max(int(len(latencies) * 0.95) - 1, 0)],
    }


def make_items(count: int, label: str) -> list[StockItem]:
    items = []
    for i in range(count):
        product = Product.objects.create(
            sku=f"BENCH-{label}-{i}", slug=f"bench-{label}-{i}".lower(), name=f"Bench {i}", price=1
        )
        item = services.stock_item_for_product(product=product)
        services.stock_receive(stock_item=item, quantity=STOCK, reference="bench")
        items.append(item)
    return items


def report(title: str, result: dict, items: list[StockItem], label: str, expect_ok=None) -> bool:
    for item in items:
        item.refresh_from_db()
    reserved = sum(i.reserved for i in items)
    stock = sum(i.on_hand for i in items)
    held = sum(
        Reservation.objects.filter(reference__startswith=f"{label}-", state="active").values_list(
            "quantity", flat=True
        )
    )
    oversold = sum(max(i.reserved - i.on_hand, 0) for i in items) + max(held - stock, 0)
    outcomes = result["outcomes"]
    print(f"-- {title}")
    print(
        f"   attempts {sum(outcomes.values())}, successes {outcomes['ok']}, "
        f"refused (insufficient_stock) {outcomes['short']}, deadlocks {outcomes['deadlock']}, "
        f"other errors {outcomes['error']}"
    )
    print(f"   units: stock {stock}, reserved {reserved}, oversold {oversold}")
    print(
        f"   wall {result['wall']:.2f} s, throughput {result['throughput']:.0f} attempts/s, "
        f"p50 {result['p50'] * 1000:.1f} ms, p95 {result['p95'] * 1000:.1f} ms"
    )
    ok = oversold == 0 and outcomes["deadlock"] == 0 and outcomes["error"] == 0
    ok = ok and reserved == held
    if expect_ok is not None:
        ok = ok and outcomes["ok"] == expect_ok
    return ok


def main() -> int:
    if connection.vendor != "postgresql":
        print("This benchmark needs PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 1
    # Alert evaluation is queued to a worker in production; here it would only add noise.
    tasks.stock_alerts_evaluate.delay = lambda *args, **kwargs: None
    test_name = os.environ.get("TEST_DATABASE_NAME") or "bench_stock_contention"
    connection.settings_dict["TEST"]["NAME"] = test_name
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        print(
            f"PostgreSQL {connection.cursor().connection.info.server_version}, "
            f"{WORKERS} threads, {ATTEMPTS} attempts per round"
        )
        ok = True
        [single] = make_items(1, "one")
        result = race([{single.product_id: 1}] * ATTEMPTS, "one")
        ok &= report(
            f"round 1: {STOCK} units of one product, {ATTEMPTS} x 1 unit",
            result,
            [single],
            "one",
            expect_ok=STOCK,
        )

        items = make_items(PRODUCTS, "multi")
        rng = random.Random(42)
        baskets = []
        for _ in range(ATTEMPTS):
            chosen = rng.sample(items, k=rng.randint(2, PRODUCTS))  # random order on purpose
            baskets.append({item.product_id: rng.randint(1, 2) for item in chosen})
        result = race(baskets, "multi")
        ok &= report(
            f"round 2: {PRODUCTS} products x {STOCK} units, {ATTEMPTS} baskets of 2-5 lines "
            "in random order",
            result,
            items,
            "multi",
        )
        drift = selectors.stock_ledger_discrepancies()
        print(f"-- check_stock: {'clean' if not drift else f'{len(drift)} item(s) drifted'}")
        ok &= not drift
        print("OK" if ok else "FAILED")
        return 0 if ok else 1
    finally:
        connections.close_all()
        connection.creation.destroy_test_db(old_name, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
