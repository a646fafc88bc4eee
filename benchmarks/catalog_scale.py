"""Catalog list, deep page, search and shop page at 1,000 / 100,000 / 1,000,000 products.

Seeds a throwaway database (`<name>_bench_catalog` beside DATABASE_URL's) with COPY (products,
then their stock rows in one INSERT ... SELECT; the search document and the typo vocabulary
are built by the database as on any insert), runs VACUUM ANALYZE, then times, at each size,
through the whole Django/DRF stack (in-process test client, so no network), anonymous:

- (a) the filtered, sorted product list (API): median, queries, matches;
- (b) page 50 of that list: 3 a page (so that it exists at 1,000 products, where 194 match),
  and 20 a page (OFFSET 980, the deepest page the count cap serves) where it exists;
- (c) product searches (words in any order, a typo, a single word through the API; a typo
  through the shop page): medians; target: each under 50 ms;
- (d) the shop's product list page (HTML, `/` with the same filters, 24 products) against
  the API list of the same 24 products: medians and their ratio; target: under 2 at 100,000.

Each request's query count is printed beside its median. At the end, ratios from this one
run: list and page 50 at the largest size over the smallest (target: under 2), the page/API
ratio, and the slowest search at the largest size.

Sizes are a parameter (`BENCH_SIZES=1000,100000,1000000`, the default); products are added to
reach each size in turn, so later sizes reuse the earlier rows. `BENCH_RUNS` (default 60)
requests are timed per median, after 5 untimed ones.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop .venv/bin/python benchmarks/catalog_scale.py
"""

import logging
import os
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

from benchdb import django_on_fresh_database

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

SIZES = tuple(int(size) for size in os.environ.get("BENCH_SIZES", "1000,100000,1000000").split(","))
RUNS = int(os.environ.get("BENCH_RUNS", "60"))
# The benchmark makes thousands of anonymous API requests a minute from one address.
os.environ.setdefault("THROTTLE_ANON", "1000000/min")
FILTERS = "category=coffee&min_price=5&max_price=80&in_stock=true&ordering=-price"
QUERY = f"/api/v1/products/?{FILTERS}&page_size=20"
# Page 50 of the list: 3 a page, so that it exists at 1,000 products (194 match there); and
# with the list's 20 a page (OFFSET 980, the deepest page the count cap serves) where it exists.
DEEP_PAGE, DEEP_PAGE_SIZE = 50, 3
DEEP = f"/api/v1/products/?{FILTERS}&page_size={DEEP_PAGE_SIZE}&page={DEEP_PAGE}"
DEEPEST = f"{QUERY}&page={DEEP_PAGE}"
SHOP_PAGE = f"/?{FILTERS}"  # 24 products a page
SHOP_PAGE_API = f"/api/v1/products/?{FILTERS}&page_size=24"  # the same 24, as JSON
SEARCH_TARGET_MS = 50
PAGE_RATIO_AT = 100_000
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
PRODUCT_COLUMNS = ("sku", "slug", "name", "description", "category_id", "price", "active")
COPY_BATCH = 250_000  # rows per COPY statement (the vocabulary trigger runs once per statement)


def _model_defaults(model, columns: tuple[str, ...]) -> dict[str, object]:
    """The model's defaults for the columns a COPY leaves out (model defaults are not
    database defaults); generated columns are the database's to fill."""
    from django.db import models
    from django.utils import timezone

    defaults = {}
    for field in model._meta.concrete_fields:
        if field.column in columns or field.primary_key or isinstance(field, models.GeneratedField):
            continue
        if getattr(field, "auto_now", False) or getattr(field, "auto_now_add", False):
            defaults[field.column] = timezone.now()
        elif not field.null:
            defaults[field.column] = field.get_default()  # "" for a text field without one
    return defaults


def _product_rows(start: int, stop: int, category_ids: list[int]):
    for i in range(start, stop):
        yield (
            f"B-{i:07d}",
            f"bench-{i}",
            f"{ORIGINS[i % len(ORIGINS)]} {KINDS[(i // 7) % len(KINDS)]} no. {i}",
            f"Notes of {NOTES[i % len(NOTES)]} and {NOTES[(i // 3) % len(NOTES)]}; lot {i // 100}.",
            category_ids[i % len(category_ids)],
            Decimal(i % 9_000) / 100 + 1,
            i % 17 != 0,
        )


def _seed_to(total: int, categories) -> float:
    """Add products (and stock rows) until there are `total`; return the seconds it took."""
    from django.db import connection

    from catalog.models import Product
    from inventory.models import StockItem

    started = time.perf_counter()
    start = Product.objects.count()
    category_ids = [category.pk for category in categories]
    defaults = _model_defaults(Product, PRODUCT_COLUMNS)
    extra = tuple(defaults.values())
    columns = ", ".join((*PRODUCT_COLUMNS, *defaults))
    stock = StockItem._meta.db_table
    stock_defaults = _model_defaults(
        StockItem, ("product_id", "on_hand", "reserved", "low_stock_threshold")
    )
    with connection.cursor() as cursor:
        for low in range(start, total, COPY_BATCH):
            high = min(low + COPY_BATCH, total)
            with cursor.copy(f"COPY {Product._meta.db_table} ({columns}) FROM STDIN") as copy:
                for row in _product_rows(low, high, category_ids):
                    copy.write_row(row + extra)
        # Stock as the old bulk seeding had it: on_hand (id % 7) * 3, reserved id % 7.
        extra_columns = "".join(f", {name}" for name in stock_defaults)
        cursor.execute(
            f"INSERT INTO {stock} (product_id, on_hand, reserved, low_stock_threshold"
            f"{extra_columns}) SELECT p.id, (p.id %% 7) * 3, p.id %% 7, 5"
            f"{', %s' * len(stock_defaults)} FROM {Product._meta.db_table} p "
            f"WHERE NOT EXISTS (SELECT 1 FROM {stock} s WHERE s.product_id = p.id)",
            list(stock_defaults.values()),
        )
        # As autovacuum would leave the tables: statistics, visibility map, GIN lists merged.
        cursor.execute(f"VACUUM ANALYZE {Product._meta.db_table}, {stock}, catalog_searchterm")
    return time.perf_counter() - started


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


def _measure(client, url: str) -> tuple[float, int, object]:
    """Return the median, the query count of one more request, and that response."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    median_ms = _median_ms(client, url)
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    return median_ms, len(queries), response


def _cards(response) -> int:
    return response.content.decode().count('class="product-card"')


def _measure_searches(client, size: int) -> list[float]:
    medians = []
    for label, url in SEARCHES:
        median_ms, queries, response = _measure(client, url)
        medians.append(median_ms)
        if url.startswith("/api/"):
            body = response.json()
            found = f"{body['count']}{'+' if body['count_capped'] else ''} found"
        else:
            found = f"{_cards(response)} shown"
        verdict = "ok" if median_ms < SEARCH_TARGET_MS else "OVER TARGET"
        print(
            f"{size:>9} products: search {label:<20} median {median_ms:6.2f} ms, "
            f"{queries} queries, {found} ({verdict}, target < {SEARCH_TARGET_MS} ms)"
        )
    return medians


def _ratio(values: dict[int, float]) -> float:
    return values[SIZES[-1]] / values[SIZES[0]]


def main():
    django_on_fresh_database("catalog")
    logging.disable(logging.WARNING)  # no request log lines between the figures
    from django.test import Client

    from catalog import services

    root = services.category_create(name="Coffee", slug="coffee")
    categories = [root]
    for name in ("Beans", "Ground", "Capsules"):
        categories.append(services.category_create(name=name, parent=root))
    for name in ("Tea", "Equipment", "Accessories", "Books", "Gifts", "Cups"):
        categories.append(services.category_create(name=name))

    client = Client()
    lists, deeps, page_ratios, searches = {}, {}, {}, {}
    for size in SIZES:
        seconds = _seed_to(size, categories)
        print(f"{size:>9} products: seeded in {seconds:.1f} s (COPY, stock, VACUUM ANALYZE)")

        median_ms, queries, response = _measure(client, QUERY)
        lists[size] = median_ms
        print(
            f"{size:>9} products: list median {median_ms:6.2f} ms over {RUNS} requests, "
            f"{queries} queries, {response.json()['count']} matching"
        )

        median_ms, queries, response = _measure(client, DEEP)
        deeps[size] = median_ms
        shown = len(response.json()["results"])
        assert shown == DEEP_PAGE_SIZE, f"page {DEEP_PAGE} has {shown} products at {size}"
        print(
            f"{size:>9} products: list page {DEEP_PAGE} ({DEEP_PAGE_SIZE} a page) median "
            f"{median_ms:6.2f} ms, {queries} queries, {shown} shown"
        )
        if client.get(DEEPEST).status_code == 200:
            median_ms, queries, response = _measure(client, DEEPEST)
            print(
                f"{size:>9} products: list page {DEEP_PAGE} (20 a page, OFFSET 980) median "
                f"{median_ms:6.2f} ms, {queries} queries, {len(response.json()['results'])} shown"
            )
        else:
            print(f"{size:>9} products: list page {DEEP_PAGE} (20 a page) does not exist here")

        searches[size] = max(_measure_searches(client, size))

        page_ms, page_queries, page = _measure(client, SHOP_PAGE)
        api_ms, api_queries, api = _measure(client, SHOP_PAGE_API)
        assert _cards(page) == len(api.json()["results"]) == 24, "page and API differ"
        page_ratios[size] = page_ms / api_ms
        print(
            f"{size:>9} products: shop page (HTML, 24 products) median {page_ms:6.2f} ms, "
            f"{page_queries} queries; API list (24) median {api_ms:6.2f} ms, {api_queries} "
            f"queries; page/API {page_ratios[size]:.2f}"
        )

    first, last = f"{SIZES[0]:,}", f"{SIZES[-1]:,}"
    print(f"list ratio {last} / {first}: {_ratio(lists):.2f} (target < 2)")
    print(f"page {DEEP_PAGE} ratio {last} / {first}: {_ratio(deeps):.2f} (target < 2)")
    at = PAGE_RATIO_AT if PAGE_RATIO_AT in page_ratios else SIZES[-1]
    print(
        f"shop page / API list at {at:,}: {page_ratios[at]:.2f} "
        f"({'ok' if page_ratios[at] < 2 else 'OVER TARGET'}, target < 2)"
    )
    print(f"list request: GET {QUERY}")
    slowest = max(searches.values())
    print(
        f"slowest search median: {slowest:.2f} ms "
        f"({'ok' if slowest < SEARCH_TARGET_MS else 'OVER TARGET'}, "
        f"target < {SEARCH_TARGET_MS} ms)"
    )
    print(
        f"slowest search median at {last}: {searches[SIZES[-1]]:.2f} ms "
        f"({'ok' if searches[SIZES[-1]] < SEARCH_TARGET_MS else 'OVER TARGET'}, "
        f"target < {SEARCH_TARGET_MS} ms)"
    )


if __name__ == "__main__":
    main()
