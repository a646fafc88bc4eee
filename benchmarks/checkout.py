"""Checkout under contention: 100 shoppers check out 3-line carts at once against limited stock.

Needs PostgreSQL (DATABASE_URL). Builds a throw-away database (`bench_checkout_<prefix>`),
fills carts through the services, then fires every checkout through the real API stack
(POST /api/v1/orders/ with an Idempotency-Key) from a thread pool, each thread on its own
database connection. Prints orders placed, 409s, oversold units (must be 0), median and p95
checkout time and queries per checkout, and exits non-zero when anything was oversold or a
checkout failed with another status. Runs once per thread count (fresh database each time),
and first counts the statements of one checkout through the service: placed (3 lines) and
refused (short stock, empty cart, replayed key), BEGIN and COMMIT/ROLLBACK included, with
the shipping methods cached (as after any earlier checkout) and once with a cold cache.
Each run ends with the ledger check (inventory.selectors.stock_ledger_discrepancies: stock
counters against ledger sums and active reservations), which must be clean.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/checkout.py
    options: --shoppers 100 --threads 1,16 --products 6 --stock 40
"""

import argparse
import contextlib
import logging
import os
import random
import statistics
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["TEST_DATABASE_NAME"] = "bench_checkout_" + os.environ.get("CACHE_KEY_PREFIX", "orders")
os.environ["EMAIL_URL"] = "dummymail://"
# Queue Celery tasks without running them in the request, as with a real broker and workers.
os.environ["CELERY_BROKER_URL"] = "memory://"
os.environ.setdefault("THROTTLE_CHECKOUT", "100000/min")
os.environ.setdefault("THROTTLE_USER", "100000/min")

import django

django.setup()

from django.db import connection, connections  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_databases, teardown_databases  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

ADDRESS = {
    "full_name": "Bench Shopper",
    "line1": "1 Load Street",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


def _prepare(*, shoppers: int, products: int, stock: int, seed: int):
    from decimal import Decimal

    from accounts.models import User
    from catalog import services as catalog_services
    from inventory import services as inventory_services
    from orders import services as order_services

    rng = random.Random(seed)
    items = []
    for i in range(products):
        product = catalog_services.product_create(
            sku=f"BENCH-{i:03d}", name=f"Bench product {i}", price=Decimal("9.90") + i
        )
        inventory_services.stock_receive(
            stock_item=inventory_services.stock_item_for_product(product=product), quantity=stock
        )
        items.append(product)
    users = []
    for i in range(shoppers):
        user = User.objects.create_user(f"bench{i}@example.com", None, email_verified=True)
        cart = order_services.cart_get_or_create(user=user)
        for product in rng.sample(items, 3):
            order_services.cart_item_add(
                cart=cart, product_id=product.pk, quantity=rng.randint(1, 2)
            )
        users.append(user)
    return items, users


def _checkout(user):
    client = APIClient()
    client.force_authenticate(user=user)
    with CaptureQueriesContext(connections["default"]) as queries:
        started = time.perf_counter()
        response = client.post(
            "/api/v1/orders/",
            {"shipping_address": ADDRESS},
            format="json",
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        elapsed = time.perf_counter() - started
    return response.status_code, elapsed, len(queries.captured_queries)


def _service_counts() -> dict[str, int]:
    """Statements of one checkout through the service, in real transactions."""
    from decimal import Decimal

    from accounts.models import User
    from catalog import services as catalog_services
    from inventory import services as inventory_services
    from orders import services as order_services

    products = []
    for i in range(3):
        product = catalog_services.product_create(
            sku=f"COUNT-{i}", name=f"Count product {i}", price=Decimal("5.00")
        )
        inventory_services.stock_receive(
            stock_item=inventory_services.stock_item_for_product(product=product), quantity=3
        )
        products.append(product)

    def shopper(name, quantity):
        user = User.objects.create_user(f"{name}@example.com", None, email_verified=True)
        cart = order_services.cart_get_or_create(user=user)
        for product in products if quantity else []:
            order_services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)
        return user

    def count(user, key):
        # contextlib.suppress: the refusals are what is measured
        with CaptureQueriesContext(connection) as queries, contextlib.suppress(Exception):
            order_services.order_checkout(user=user, shipping_address=ADDRESS, idempotency_key=key)
        if os.environ.get("BENCH_SHOW_SQL"):
            print("\n".join(q["sql"][:150] for q in queries.captured_queries), "\n")
        return len(queries.captured_queries)

    from orders import shipping

    placed_user, short_user = shopper("count-placed", 1), shopper("count-short", 3)
    cold_user = shopper("count-cold", 1)
    shipping.shipping_method_cache_invalidate()  # cold: the next read goes to the database
    counts = {"placed, cold shipping cache": count(cold_user, "k0")}
    counts["placed (3 lines)"] = count(placed_user, "k1")
    counts["refused: replayed key"] = count(placed_user, "k1")
    counts["refused: short stock"] = count(short_user, "k2")
    counts["refused: empty cart"] = count(shopper("count-empty", 0), "k3")
    return counts


def _oversold(items) -> tuple[int, int]:
    """Return (units sold beyond stock, units where counters disagree with placed orders)."""
    from django.db.models import Sum

    from inventory.models import StockItem
    from orders.models import OrderLine

    oversold = mismatched = 0
    for product in items:
        stock = StockItem.objects.get(product=product)
        placed = OrderLine.objects.filter(product=product).aggregate(n=Sum("quantity"))["n"] or 0
        received = stock.on_hand  # nothing is paid in the run, so on_hand is what was received
        oversold += max(placed - received, 0) + max(stock.reserved - stock.on_hand, 0)
        mismatched += abs(stock.reserved - placed)
    return oversold, mismatched


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shoppers", type=int, default=100)
    parser.add_argument("--threads", default="1,16", help="thread counts, one run each")
    parser.add_argument("--products", type=int, default=6)
    parser.add_argument("--stock", type=int, default=40)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()

    logging.disable(logging.WARNING)  # 409s are expected here; keep the report readable
    if connection.vendor != "postgresql":
        print("benchmarks/checkout.py needs PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 2

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        _forget_cached_methods()
        counts = _service_counts()
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)
    print(
        "statements per checkout through the service (BEGIN and COMMIT/ROLLBACK included, "
        "plus the after-commit outbox DELETE for a placed one)"
    )
    for name, value in counts.items():
        print(f"  {name:<28} {value}")
    failed = 0
    for workers in [int(n) for n in args.threads.split(",") if n.strip()]:
        failed += _run(args, workers)
    return 1 if failed else 0


def _forget_cached_methods() -> None:
    """The database is new, the cache (Redis) is not: drop shipping methods cached before."""
    from orders import shipping

    shipping.shipping_method_cache_invalidate()


def _run(args, workers: int) -> int:
    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        _forget_cached_methods()
        items, users = _prepare(
            shoppers=args.shoppers, products=args.products, stock=args.stock, seed=args.seed
        )
        demand = sum(item.quantity for user in users for item in user.cart.items.all())
        connection.close()
        workers = min(workers, args.shoppers)
        opened, closed = threading.Barrier(workers), threading.Barrier(workers)

        def warm(_):
            # Each worker opens its connection once, before the clock starts, and keeps it
            # (as a web process would); the barrier makes every worker take one warm-up.
            connections["default"].ensure_connection()
            opened.wait()

        def close(_):
            connections["default"].close()
            closed.wait()

        with ThreadPoolExecutor(max_workers=workers) as pool:
            list(pool.map(warm, range(workers)))
            wall = time.perf_counter()
            results = list(pool.map(_checkout, users))
            wall = time.perf_counter() - wall
            list(pool.map(close, range(workers)))

        statuses = Counter(status for status, _, _ in results)
        times = sorted(elapsed for status, elapsed, _ in results if status == 201)
        refused_times = sorted(elapsed for status, elapsed, _ in results if status == 409)
        all_times = sorted(elapsed for _, elapsed, _ in results)
        placed_queries = [n for status, _, n in results if status == 201]
        short_queries = [n for status, _, n in results if status == 409]
        oversold, mismatched = _oversold(items)
        from inventory import selectors as inventory_selectors

        drift = inventory_selectors.stock_ledger_discrepancies()

        def ms(value):
            return f"{value * 1000:.1f} ms"

        def median(values):
            return statistics.median(values) if values else 0

        def p95(values):
            return values[min(len(values) - 1, round(0.95 * (len(values) - 1)))] if values else 0

        print(
            f"checkout benchmark (API): {args.shoppers} shoppers, {workers} threads, "
            f"{args.products} products x {args.stock} units = {args.products * args.stock} units, "
            f"{demand} units in carts (3 lines each)"
        )
        print(f"  orders placed        {statuses.get(201, 0)}")
        print(f"  409 short stock      {statuses.get(409, 0)}")
        others = {k: v for k, v in statuses.items() if k not in (201, 409)}
        print(f"  other statuses       {others or 'none'}")
        print(f"  oversold units       {oversold}")
        print(f"  reserved != placed   {mismatched}")
        print(
            "  ledger check         "
            + ("clean" if not drift else f"{len(drift)} item(s) drifted: {drift}")
        )
        print(f"  checkout time        median {ms(median(all_times))}, p95 {ms(p95(all_times))}")
        print(f"    placed             median {ms(median(times))}, p95 {ms(p95(times))}")
        print(
            f"    refused (409)      median {ms(median(refused_times))}, "
            f"p95 {ms(p95(refused_times))}"
        )
        print(
            f"  queries per checkout placed {median(placed_queries):.0f} "
            f"(max {max(placed_queries, default=0)}), 409 {median(short_queries):.0f} "
            f"(max {max(short_queries, default=0)})  [with the after-commit outbox DELETE]"
        )
        print(f"  wall time            {wall:.2f} s ({args.shoppers / wall:.0f} checkouts/s)")
        return 0 if oversold == 0 and mismatched == 0 and not drift and not others else 1
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
