"""Concurrent checkouts on PostgreSQL: exactly the stock is sold, never more, and no deadlock."""

import random
import threading
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import OperationalError, connection, connections
from django.utils import timezone

from inventory import selectors, services
from inventory.errors import InsufficientStock
from inventory.models import Reservation

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]


@pytest.fixture(autouse=True)
def _postgres_only():
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")


def _race(attempts: list[dict[int, int]]) -> dict[str, int]:
    """Run every basket in its own thread at once; count successes, shortages and deadlocks."""
    counts = {"ok": 0, "short": 0, "deadlock": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(len(attempts))
    expires_at = timezone.now() + timedelta(minutes=15)

    def attempt(n, lines):
        try:
            barrier.wait()
            services.stock_reserve(lines=lines, reference=f"T-{n}", expires_at=expires_at)
            outcome = "ok"
        except InsufficientStock:
            outcome = "short"
        except OperationalError as exc:
            if "deadlock" not in str(exc).lower():
                raise
            outcome = "deadlock"
        finally:
            connections.close_all()
        with lock:
            counts[outcome] += 1

    threads = [threading.Thread(target=attempt, args=(n, b)) for n, b in enumerate(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return counts


def test_concurrent_single_unit_reservations_sell_exactly_the_stock(stocked):
    item = stocked(on_hand=5)
    counts = _race([{item.product_id: 1} for _ in range(16)])
    assert counts == {"ok": 5, "short": 11, "deadlock": 0}
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (5, 5)
    assert Reservation.objects.filter(state="active").count() == 5
    call_command("check_stock")  # raises CommandError when a counter disagrees


def test_concurrent_multi_line_baskets_never_oversell_or_deadlock(stocked):
    items = [stocked(on_hand=4) for _ in range(3)]
    rng = random.Random(7)
    baskets = []
    for _ in range(12):
        chosen = rng.sample(items, k=rng.randint(2, 3))
        # Insertion order is random on purpose: the service must lock in pk order anyway.
        baskets.append({i.product_id: 1 for i in chosen})
    counts = _race(baskets)
    assert counts["deadlock"] == 0
    for item in items:
        item.refresh_from_db()
        assert 0 <= item.reserved <= item.on_hand == 4
    assert counts["ok"] + counts["short"] == len(baskets)
    # All or nothing: a basket that went through holds one reservation per line, others none.
    made = {}
    for reference, product_id in Reservation.objects.values_list(
        "reference", "stock_item__product_id"
    ):
        made.setdefault(reference, set()).add(product_id)
    assert len(made) == counts["ok"]
    for reference, products in made.items():
        assert products == set(baskets[int(reference.removeprefix("T-"))])
    assert sum(i.reserved for i in items) == sum(len(p) for p in made.values())
    assert selectors.stock_ledger_discrepancies() == []
