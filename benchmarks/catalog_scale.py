"""Catalog list latency at 1,000 and at 100,000 products, on PostgreSQL.

Seeds a throwaway database (`<name>_bench_catalog` beside DATABASE_URL's), then times a
filtered, sorted product-list request through the whole Django/DRF stack (in-process test
client, so no network) at each size and prints the medians, their ratio and the query count.
Target: ratio under 2 (indexes, no per-row queries).

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/catalog_scale.py
"""

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = (1_000, 100_000)
RUNS = 60
QUERY = (
    "/api/v1/products/?category=coffee&min_price=5&max_price=80&in_stock=true"
    "&ordering=-price&page_size=20"
)


def _bench_database_url() -> str:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("Set DATABASE_URL to a PostgreSQL database (see the README).")
    parts = urlsplit(url)
    name = parts.path.lstrip("/") or "shop"
    bench = f"{name}_bench_catalog"
    import psycopg

    admin = urlunsplit(parts._replace(path="/postgres", scheme="postgresql"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{bench}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{bench}"')
    return urlunsplit(parts._replace(path=f"/{bench}"))


def _setup():
    os.environ["DATABASE_URL"] = _bench_database_url()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ["DJANGO_DEBUG"] = "false"
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def _seed_to(total: int, categories) -> None:
    """Add products (and stock rows) until there are `total`, spread over the categories."""
    from catalog.models import Product
    from inventory.models import StockItem

    start = Product.objects.count()
    batch = []
    for i in range(start, total):
        batch.append(
            Product(
                sku=f"B-{i:07d}",
                slug=f"bench-{i}",
                name=f"Bench product {i}",
                price=Decimal(i % 9_000) / 100 + 1,
                category=categories[i % len(categories)],
                active=i % 17 != 0,
            )
        )
        if len(batch) == 5_000:
            _flush(batch, Product, StockItem)
    _flush(batch, Product, StockItem)
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")


def _flush(batch, Product, StockItem):
    if not batch:
        return
    products = Product.objects.bulk_create(batch)
    StockItem.objects.bulk_create(
        StockItem(product=p, on_hand=(p.pk % 7) * 3, reserved=(p.pk % 7) if p.pk % 7 else 0)
        for p in products
    )
    batch.clear()


def _measure(client) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(5):  # warm caches and connection
        client.get(QUERY)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(QUERY)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as queries:
        body = client.get(QUERY).json()
    return statistics.median(timings) * 1000, len(queries), body["count"]


def main():
    _setup()
    from django.test import Client

    from catalog import services

    root = services.category_create(name="Coffee", slug="coffee")
    categories = [root]
    for name in ("Beans", "Ground", "Capsules"):
        categories.append(services.category_create(name=name, parent=root))
    for name in ("Tea", "Equipment", "Accessories", "Books", "Gifts", "Cups"):
        categories.append(services.category_create(name=name))

    client = Client()
    results = []
    for size in SIZES:
        _seed_to(size, categories)
        median_ms, queries, count = _measure(client)
        results.append(median_ms)
        print(
            f"{size:>7} products: median {median_ms:6.2f} ms over {RUNS} requests, "
            f"{queries} queries, {count} matching"
        )
    ratio = results[-1] / results[0]
    print(f"ratio {SIZES[-1]:,} / {SIZES[0]:,}: {ratio:.2f} (target < 2)")
    print(f"request: GET {QUERY}")


if __name__ == "__main__":
    main()
