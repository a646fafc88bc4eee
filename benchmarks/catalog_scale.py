"""Catalog list and search latency at 1,000 and at 100,000 products, on PostgreSQL.

Seeds a throwaway database (`<name>_bench_catalog` beside DATABASE_URL's), then times, at
each size, through the whole Django/DRF stack (in-process test client, so no network):

- a filtered, sorted product-list request: median, query count; target: ratio under 2;
- product searches (words in any order, a typo, a single word) through the API list and
  the shop page: medians; target: each under 50 ms.

Sizes are a parameter (`BENCH_SIZES=1000,100000,1000000`); products are added to reach each
size in turn, so later sizes reuse the earlier rows.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/catalog_scale.py
"""

import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from benchdb import django_on_fresh_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = tuple(int(size) for size in os.environ.get("BENCH_SIZES", "1000,100000").split(","))
RUNS = int(os.environ.get("BENCH_RUNS", "60"))
QUERY = (
    "/api/v1/products/?category=coffee&min_price=5&max_price=80&in_stock=true"
    "&ordering=-price&page_size=20"
)
SEARCH_TARGET_MS = 50
# (label, request): what shoppers type, through the API and the page.
SEARCHES = (
    ("words in any order", "/api/v1/products/?search=beans+kenya&page_size=20"),
    ("typo", "/api/v1/products/?search=kenia&page_size=20"),
    ("one word", "/api/v1/products/?search=grinder&page_size=20"),
    ("page, typo", "/?search=etiopia"),
)

# Names made of realistic words, so a search matches a slice of the catalogue, not all of it.
ORIGINS = (
    "Ethiopia", "Colombia", "Kenya", "Brazil", "Guatemala", "Sumatra", "Rwanda", "Peru",
    "Honduras", "Burundi", "Yemen", "Panama", "Bolivia", "Uganda", "Nicaragua", "Mexico",
)  # fmt: skip
KINDS = (
    "whole beans", "ground coffee", "espresso roast", "filter roast", "decaf beans",
    "green tea", "black tea", "hand grinder", "burr grinder", "pour-over dripper",
    "french press", "moka pot", "ceramic mug", "storage canister", "gooseneck kettle",
)  # fmt: skip
NOTES = ("chocolate", "berry", "citrus", "caramel", "floral", "nutty", "spicy", "honey")


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
                name=f"{ORIGINS[i % len(ORIGINS)]} {KINDS[(i // 7) % len(KINDS)]} no. {i}",
                description=(
                    f"Notes of {NOTES[i % len(NOTES)]} and {NOTES[(i // 3) % len(NOTES)]}; "
                    f"lot {i // 100}."
                ),
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


def _median_ms(client, url: str) -> float:
    for _ in range(5):  # warm caches and connection
        client.get(url)
    timings = []
    for _ in range(RUNS):
        started = time.perf_counter()
        response = client.get(url)
        timings.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    return statistics.median(timings) * 1000


def _measure(client, url: str = QUERY) -> tuple[float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    median_ms = _median_ms(client, url)
    with CaptureQueriesContext(connection) as queries:
        body = client.get(url).json()
    return median_ms, len(queries), body["count"]


def _measure_searches(client, size: int) -> list[float]:
    medians = []
    for label, url in SEARCHES:
        median_ms = _median_ms(client, url)
        medians.append(median_ms)
        found = ""
        if url.startswith("/api/"):
            body = client.get(url).json()
            found = f", {body['count']}{'+' if body['count_capped'] else ''} found"
        verdict = "ok" if median_ms < SEARCH_TARGET_MS else "OVER TARGET"
        print(
            f"{size:>9} products: search {label:<20} median {median_ms:6.2f} ms{found} "
            f"({verdict}, target < {SEARCH_TARGET_MS} ms)"
        )
    return medians


def main():
    django_on_fresh_database("catalog")
    from django.test import Client

    from catalog import services

    root = services.category_create(name="Coffee", slug="coffee")
    categories = [root]
    for name in ("Beans", "Ground", "Capsules"):
        categories.append(services.category_create(name=name, parent=root))
    for name in ("Tea", "Equipment", "Accessories", "Books", "Gifts", "Cups"):
        categories.append(services.category_create(name=name))

    client = Client()
    results, slowest_search = [], 0.0
    for size in SIZES:
        _seed_to(size, categories)
        median_ms, queries, count = _measure(client)
        results.append(median_ms)
        print(
            f"{size:>9} products: list median {median_ms:6.2f} ms over {RUNS} requests, "
            f"{queries} queries, {count} matching"
        )
        slowest_search = max(slowest_search, *_measure_searches(client, size))
    ratio = results[-1] / results[0]
    print(f"list ratio {SIZES[-1]:,} / {SIZES[0]:,}: {ratio:.2f} (target < 2)")
    print(f"list request: GET {QUERY}")
    print(
        f"slowest search median: {slowest_search:.2f} ms "
        f"({'ok' if slowest_search < SEARCH_TARGET_MS else 'OVER TARGET'}, "
        f"target < {SEARCH_TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
