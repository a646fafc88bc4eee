"""Faults survived, nothing lost: a worker killed mid-task, Redis and PostgreSQL restarted
under load, the beat stopped for a while. Only the cluster's own PostgreSQL and Redis are
stopped; every test leaves every process of the cluster running again, and ends with the
ledger check clean and every order whole (its events and its emails)."""

import json
import os
import signal
import threading
import time
import uuid
from collections import Counter

import pytest
import requests
from celery import Celery

from deploy.cluster import wait_for
from tests.cluster.shop import (
    CARD_OK,
    CARD_PENDING,
    Shopper,
    check_stock,
    make_fixtures,
    wait_orders_whole,
)

NO_ANSWER = -1  # the request failed or timed out: the shop did not answer at all


class Load:
    """Shoppers browsing, reading their account and checking out through nginx, in threads,
    until stopped; every answer's status is counted by kind."""

    def __init__(self, cluster, shoppers, product):
        self.cluster = cluster
        self.shoppers = shoppers
        self.product = product
        self.stop_event = threading.Event()
        self.statuses: dict[str, Counter] = {}
        self.lock = threading.Lock()
        self.threads = [
            threading.Thread(target=self._run, args=(shopper,), daemon=True) for shopper in shoppers
        ]

    def _count(self, kind, status):
        with self.lock:
            self.statuses.setdefault(kind, Counter())[status] += 1

    def _run(self, shopper: Shopper):
        while not self.stop_event.is_set():
            for kind, call in (
                ("browse", lambda: shopper.call("GET", "/api/v1/products/?ordering=price")),
                ("me", lambda: shopper.call("GET", "/api/v1/auth/me/")),
                ("checkout", lambda: shopper.checkout(self.product)),
            ):
                try:
                    response = call()
                    status = response.status_code
                except requests.RequestException:
                    status = NO_ANSWER
                except AssertionError:
                    status = 0  # the cart step before the checkout was refused
                self._count(kind, status)
                if self.stop_event.is_set():
                    return
            time.sleep(0.05)

    def __enter__(self):
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc):
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def total(self, status=None) -> int:
        with self.lock:
            return sum(
                count
                for counter in self.statuses.values()
                for code, count in counter.items()
                if status is None or code == status
            )


def _celery(cluster) -> Celery:
    return Celery("faults", broker=f"{cluster.redis_url}/1", set_as_current=False)


def _log_lines(cluster, *names):
    for name in names:
        path = cluster.logs / f"{name}.log"
        if path.exists():
            for raw in path.read_text(errors="replace").splitlines():
                if raw.startswith("{"):
                    yield name, json.loads(raw)


@pytest.mark.parametrize("what", ["pool process", "whole worker"])
def test_a_worker_killed_mid_task_the_task_runs_again_and_acts_once(cluster, what):
    product, (shopper,) = make_fixtures(cluster, stock=5, shoppers=1, prefix="kill")
    shopper.login()
    order = shopper.checkout(product, 2)
    assert order.status_code == 201, order.text
    number = order.json()["number"]
    app = _celery(cluster)
    paid = shopper.pay(number, CARD_PENDING)
    assert paid.status_code == 201 and paid.json()["status"] == "pending", paid.text
    # Hold the order row: the settlement (sent seconds after the payment answered `pending`)
    # reaches a worker and blocks there, mid-task, until we let go.
    lock = cluster.db()
    lock.autocommit = False
    try:
        lock.execute("SELECT id FROM orders_order WHERE number = %s FOR UPDATE", [number])

        def blocked_task():
            active = app.control.inspect(timeout=1).active() or {}
            for hostname, tasks in active.items():
                for task in tasks:
                    if task["name"].startswith("payments."):
                        return hostname, task
            return None

        hostname, task = wait_for(blocked_task, timeout=45, what="the task blocked mid-run")
        index = int(hostname.split("@")[0][1:])
        if what == "pool process":
            os.kill(task["worker_pid"], signal.SIGKILL)  # the worker's main process survives
        else:
            cluster.kill_process(f"worker{index}")  # main process and pool, as a lost machine
    finally:
        lock.rollback()
        lock.close()
        app.close()

    def settled():
        with cluster.db() as conn:
            return (
                conn.execute(
                    "SELECT status FROM orders_order WHERE number = %s", [number]
                ).fetchone()[0]
                == "paid"
            )

    try:
        wait_for(settled, timeout=90, what="the order paid by the task's second run")
    finally:
        if what == "whole worker":
            cluster.worker_start(index)  # the machine comes back (after the takeover)
    runs = sorted(
        (
            (name, line)
            for name, line in _log_lines(cluster, "worker1", "worker2")
            if line.get("event") == "task_started" and line.get("task_id") == task["id"]
        ),
        key=lambda run: run[1]["timestamp"],
    )
    assert len(runs) >= 2, runs  # started, killed, started again
    if what == "whole worker":
        assert runs[1][0] != f"worker{index}"  # the other worker took it over
    cluster.wait_workers(2)
    with cluster.db() as conn:
        payments = conn.execute(
            "SELECT p.status FROM payments_payment p JOIN orders_order o ON o.id = p.order_id"
            " WHERE o.number = %s",
            [number],
        ).fetchall()
        paid_events = conn.execute(
            "SELECT count(*) FROM orders_orderevent e JOIN orders_order o ON o.id = e.order_id"
            " WHERE o.number = %s AND e.to_status = 'paid'",
            [number],
        ).fetchone()[0]
        commits = conn.execute(
            "SELECT count(*) FROM inventory_stockmovement WHERE reference = %s AND kind = 'commit'",
            [number],
        ).fetchone()[0]
        stock = conn.execute(
            "SELECT on_hand, reserved FROM inventory_stockitem WHERE product_id = %s", [product]
        ).fetchone()
    assert payments == [("succeeded",)]
    assert paid_events == 1
    assert commits == 1
    assert stock == (3, 0)
    check_stock(cluster)
    wait_orders_whole(cluster)


def test_redis_restarted_under_load(cluster):
    product, shoppers = make_fixtures(
        cluster, stock=10_000, shoppers=6, prefix="redis", price="1.00"
    )
    for shopper in shoppers:
        shopper.login()
    revoked_before, revoked_during, survivor = shoppers[3], shoppers[4], shoppers[5]
    assert revoked_before.call("POST", "/api/v1/auth/logout/").status_code == 204
    with Load(cluster, shoppers[:3], product) as load:
        time.sleep(2)
        cluster.redis_stop()
        down_started = load.total()
        # While Redis is down: authentication reads the database, revocation still works.
        time.sleep(2)
        during = revoked_during.call("POST", "/api/v1/auth/logout/")
        me_during = survivor.call("GET", "/api/v1/auth/me/")
        answered_while_down = load.total() - down_started
        cluster.redis_start()
        time.sleep(3)
    assert answered_while_down > 0
    assert me_during.status_code == 200, me_during.text
    # A revocation never half-happens: done, or refused with 503 (the snapshot in Redis could
    # not be cleared) and then done once Redis is back.
    assert during.status_code in (204, 503), during.text
    if during.status_code == 503:
        assert during.json()["code"] == "service_unavailable"
        assert revoked_during.call("GET", "/api/v1/auth/me/").status_code == 200
        assert revoked_during.call("POST", "/api/v1/auth/logout/").status_code == 204
    for shopper in (revoked_before, revoked_during):
        for base in (cluster.web_url(1), cluster.web_url(2)):
            assert shopper.call("GET", "/api/v1/auth/me/", base=base).status_code == 401
    assert survivor.call("GET", "/api/v1/auth/me/").status_code == 200
    server_errors = {
        kind: {code: n for code, n in counter.items() if code >= 500 or code <= 0}
        for kind, counter in load.statuses.items()
    }
    assert all(not codes for codes in server_errors.values()), load.statuses
    # Throttles count again: the password-reset rate is 5 a minute per client.
    forwarded = f"10.{uuid.uuid4().int % 250}.7.9"
    codes = [
        requests.post(
            cluster.url + "/api/v1/auth/password/reset/",
            json={"email": f"nobody-{uuid.uuid4().hex[:6]}@cluster.example"},
            headers={"X-Forwarded-For": forwarded},
            timeout=30,
        ).status_code
        for _ in range(6)
    ]
    assert codes == [202] * 5 + [429]
    cluster.wait_workers(2)
    cluster.wait_beat()
    check_stock(cluster)
    wait_orders_whole(cluster)


def test_postgresql_restarted_under_load(cluster):
    product, shoppers = make_fixtures(cluster, stock=10_000, shoppers=3, prefix="pg", price="1.00")
    for shopper in shoppers:
        shopper.login()
    pids = dict(cluster.state["procs"])
    supervised = {name: cluster.supervised_pids(name) for name in ("worker1", "worker2", "beat")}
    assert all(supervised.values()), supervised
    with Load(cluster, shoppers, product) as load:
        time.sleep(2)
        cluster.postgres_stop()
        started = time.monotonic()
        down = requests.get(cluster.url + "/api/v1/products/", timeout=30)
        elapsed = time.monotonic() - started
        health = cluster.health()
        time.sleep(2)
        cluster.postgres_start()
        time.sleep(3)
    assert down.status_code == 503, down.text
    assert down.json() == {
        "detail": "The service is briefly unavailable; try again in a moment.",
        "code": "service_unavailable",
    }
    assert down.headers["Retry-After"] == "5"
    assert elapsed < 5  # fails fast, does not hang on the dead database
    assert health["status"] == 503 and health["database"].startswith("error")
    answered = {code for counter in load.statuses.values() for code in counter}
    assert answered <= {200, 201, 401, 503, 0}, load.statuses  # every request was answered
    # Every process recovers by itself: same process ids, and the whole flow works again.
    assert cluster.state["procs"] == pids
    # ...and the workers and the beat were not restarted by their restart loops either.
    assert {name: cluster.supervised_pids(name) for name in supervised} == supervised
    for index in (1, 2):
        cluster.wait_web(index, timeout=60)
    cluster.wait_workers(2)
    cluster.wait_beat()
    shopper = shoppers[0]
    order = shopper.checkout(product)
    assert order.status_code == 201, order.text
    paid = shopper.pay(order.json()["number"], CARD_OK)
    assert paid.status_code == 201 and paid.json()["status"] == "succeeded", paid.text
    check_stock(cluster)
    wait_orders_whole(cluster)


def test_beat_stopped_then_started_releases_expired_reservations_once(cluster):
    product, (shopper,) = make_fixtures(cluster, stock=4, shoppers=1, prefix="beat")
    shopper.login()
    cluster.stop_process("beat")
    try:
        order = shopper.checkout(product, 3)
        assert order.status_code == 201, order.text
        number = order.json()["number"]
        with cluster.db() as conn:  # the reservation ran out (as if 15 minutes passed)
            conn.execute(
                "UPDATE inventory_reservation SET expires_at = now() - interval '1 minute'"
                " WHERE reference = %s",
                [number],
            )
        wait_for(
            lambda: cluster.health().get("beat", "").startswith("error"),
            timeout=30,
            what="/healthz to report the beat down",
        )
        with cluster.db() as conn:
            held = conn.execute(
                "SELECT reserved FROM inventory_stockitem WHERE product_id = %s", [product]
            ).fetchone()[0]
        assert held == 3  # nobody released it while the beat was down
    finally:
        cluster.beat_start()
    cluster.wait_beat()

    def expired():
        with cluster.db() as conn:
            return (
                conn.execute(
                    "SELECT status FROM orders_order WHERE number = %s", [number]
                ).fetchone()[0]
                == "expired"
            )

    wait_for(expired, timeout=60, what="the order expired by the restarted beat")
    time.sleep(4)  # a few more schedule ticks: nothing may run twice
    with cluster.db() as conn:
        releases = conn.execute(
            "SELECT count(*) FROM inventory_stockmovement"
            " WHERE reference = %s AND kind IN ('release', 'expiry')",
            [number],
        ).fetchone()[0]
        expired_events = conn.execute(
            "SELECT count(*) FROM orders_orderevent e JOIN orders_order o ON o.id = e.order_id"
            " WHERE o.number = %s AND e.to_status = 'expired'",
            [number],
        ).fetchone()[0]
        stock = conn.execute(
            "SELECT on_hand, reserved FROM inventory_stockitem WHERE product_id = %s", [product]
        ).fetchone()
    assert releases == 1
    assert expired_events == 1
    assert stock == (4, 0)
    check_stock(cluster)
    wait_orders_whole(cluster)
