"""Load test with Locust against the local cluster (deploy/cluster.py): prints requests/s,
p50/p95 per kind of request, the error count, and the oversell and ledger checks.

Starts its own cluster (own PostgreSQL and Redis on free ports, nginx, two gunicorn, two
workers, one beat), seeds products and verified shoppers, runs `benchmarks/locustfile.py`
headless for a bounded time through nginx, checks the database, stops the cluster. Access
tokens live one minute in this run, so every shopper refreshes its token during the test.
Exits non-zero on any error, any oversold unit or a ledger discrepancy.

    .venv/bin/python benchmarks/load_cluster.py            # 40 shoppers, 60 s
    options: --users 40 --spawn-rate 10 --seconds 60 --products 20
"""

import argparse
import csv
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from deploy.cluster import VENV_BIN, Cluster  # noqa: E402

PASSWORD = "load-shopper-password-1"
SCARCE_STOCK = 15  # one product everybody can buy until it is gone: the oversell check
KINDS = [
    "browse: list",
    "browse: search",
    "browse: product",
    "cart: add",
    "cart: view",
    "cart: remove",
    "checkout",
    "pay",
    "auth: login",
    "auth: refresh",
]


def seed(cluster: Cluster, *, products: int, users: int) -> list[str]:
    emails = [f"load-{i}@load.example" for i in range(users)]
    code = f"""
from decimal import Decimal
from accounts.models import User
from catalog.models import Product
from inventory import services
for e in {emails!r}:
    User.objects.create_user(email=e, password={PASSWORD!r}, email_verified=True)
for i in range({products}):
    stock = {SCARCE_STOCK} if i == 0 else 100000
    p = Product.objects.create(sku=f"LOAD-{{i}}", slug=f"load-{{i}}",
        name=f"Load item {{i}}", price=Decimal("3.50") + i, active=True)
    services.stock_receive(stock_item=services.stock_item_for_product(product=p), quantity=stock)
"""
    cluster.manage("shell", "-c", code)
    return emails


def oversold_units(cluster: Cluster) -> int:
    """Units promised to live orders beyond what was ever received, summed over products."""
    with cluster.db() as conn:
        rows = conn.execute(
            """
            SELECT s.id,
                   (SELECT coalesce(sum(m.delta_on_hand), 0) FROM inventory_stockmovement m
                     WHERE m.stock_item_id = s.id AND m.kind = 'receipt') AS received,
                   (SELECT coalesce(sum(l.quantity), 0) FROM orders_orderline l
                     JOIN orders_order o ON o.id = l.order_id
                     WHERE l.product_id = s.product_id
                       AND o.status IN ('pending_payment', 'paid', 'processing', 'shipped',
                                        'delivered')) AS promised,
                   s.on_hand, s.reserved
              FROM inventory_stockitem s
            """
        ).fetchall()
    return sum(
        max(0, promised - received) + max(0, reserved - on_hand)
        for _, received, promised, on_hand, reserved in rows
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--users", type=int, default=40)
    parser.add_argument("--spawn-rate", type=int, default=10)
    parser.add_argument("--seconds", type=int, default=60)
    parser.add_argument("--products", type=int, default=20)
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="shop-load-"))
    root.chmod(0o755)
    cluster = Cluster(root, extra_env={"ACCESS_TOKEN_MINUTES": "1", "LOG_LEVEL": "WARNING"})
    try:
        print("starting the cluster ...", flush=True)
        cluster.start()
        emails = seed(cluster, products=args.products, users=args.users)
        (root / "users.json").write_text(json.dumps(emails))
        print(
            f"running Locust: {args.users} shoppers for {args.seconds} s via {cluster.url}",
            flush=True,
        )
        locust = subprocess.run(
            [
                str(VENV_BIN / "locust"),
                "-f",
                str(ROOT / "benchmarks" / "locustfile.py"),
                "--headless",
                "-u",
                str(args.users),
                "-r",
                str(args.spawn_rate),
                "-t",
                f"{args.seconds}s",
                "--host",
                cluster.url,
                "--csv",
                str(root / "locust"),
                "--only-summary",
                "--loglevel",
                "WARNING",
                "--stop-timeout",
                "10",
            ],
            env={
                **cluster.env(),
                "SHOP_USERS": str(root / "users.json"),
                "SHOP_PASSWORD": PASSWORD,
            },
            capture_output=True,
            text=True,
            timeout=args.seconds + 180,
        )
        with open(root / "locust_stats.csv") as handle:
            stats = {row["Name"]: row for row in csv.DictReader(handle)}
        total = stats.pop("Aggregated")
        print()
        print(f"{'kind':<18}{'requests':>10}{'errors':>8}{'req/s':>9}{'p50 ms':>9}{'p95 ms':>9}")
        for name in sorted(stats, key=lambda n: KINDS.index(n) if n in KINDS else 99):
            row = stats[name]
            print(
                f"{name:<18}{row['Request Count']:>10}{row['Failure Count']:>8}"
                f"{float(row['Requests/s']):>9.1f}{row['50%']:>9}{row['95%']:>9}"
            )
        print(
            f"{'all':<18}{total['Request Count']:>10}{total['Failure Count']:>8}"
            f"{float(total['Requests/s']):>9.1f}{total['50%']:>9}{total['95%']:>9}"
        )
        errors = int(total["Failure Count"])
        failures = root / "locust_failures.csv"
        if errors and failures.exists():
            print("\nerrors:\n" + failures.read_text())
        oversold = oversold_units(cluster)
        ledger = cluster.manage("check_stock", check=False)
        with cluster.db() as conn:
            orders = dict(
                conn.execute("SELECT status, count(*) FROM orders_order GROUP BY status").fetchall()
            )
        print(f"\norders by status: {orders}")
        print(f"errors: {errors}")
        print(f"oversold units: {oversold}")
        print(
            "ledger check: "
            + ("clean" if ledger.returncode == 0 else "DISCREPANCIES\n" + ledger.stderr)
        )
        if locust.returncode not in (0, 1):
            print(locust.stderr[-3000:], file=sys.stderr)
        return 0 if errors == 0 and oversold == 0 and ledger.returncode == 0 else 1
    finally:
        cluster.stop()
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
