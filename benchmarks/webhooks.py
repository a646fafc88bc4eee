"""Webhook inbox under load: deliveries acknowledged per second, events processed per second.

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL; the broker is CELERY_BROKER_URL or
REDIS_URL). Builds a throw-away database (`bench_webhooks_payments`), places orders and
starts a pending dummy payment for each through the services, starts a real Celery worker
on that database, then fires the provider's webhooks through the real endpoint
(POST /api/v1/payments/webhooks/dummy/, HMAC-signed raw bodies) from a thread pool, each
thread on its own database connection. Every payment gets `payment.succeeded`; a share
also gets a late `payment.failed` (out of order); every event is delivered `--copies`
times, shuffled. A delivery is acknowledged once verified and stored; the worker drains
the inbox after. Prints deliveries acknowledged per second, events processed per second
(first delivery to last event processed), events processed more than once and events lost
(both must be 0), and exits non-zero otherwise.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/webhooks.py
    options: --payments 300 --copies 3 --late-failures 0.3 --processes 4 --workers 4
             --celery-concurrency 2 --http (over HTTP to gunicorn, --processes x --workers)
"""

import argparse
import json
import logging
import os
import random
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["TEST_DATABASE_NAME"] = "bench_webhooks_payments"
os.environ["EMAIL_URL"] = "dummymail://"
# A real broker and worker: deliveries are acknowledged, the worker processes them after.
# `--inline` measures the old way instead (no broker: each delivery processed in its request).
INLINE = "--inline" in sys.argv
if INLINE:
    os.environ.pop("CELERY_BROKER_URL", None)
else:
    os.environ.setdefault(
        "CELERY_BROKER_URL", os.environ.get("REDIS_URL", "") or "redis://127.0.0.1:6379/0"
    )
os.environ["THROTTLE_WEBHOOK"] = "1000000/min"
os.environ["THROTTLE_ANON"] = "1000000/min"
os.environ["FRAUD_MAX_ORDERS_PER_HOUR"] = "1000000"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402
from rest_framework.test import APIClient  # noqa: E402

from payments import services as payment_services  # noqa: E402
from payments.signatures import signature_header_make  # noqa: E402

URL = "/api/v1/payments/webhooks/dummy/"
ADDRESS = {
    "full_name": "Bench Shopper",
    "line1": "1 Load Street",
    "city": "Berlin",
    "postal_code": "10115",
    "country": "DE",
}


def _worker(concurrency: int) -> subprocess.Popen:
    """Start a Celery worker on the benchmark's database (a separate process, as in production)."""
    env = _database_env()
    root = Path(__file__).resolve().parent.parent
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "celery",
            "-A",
            "config",
            "worker",
            "--purge",
            "--without-gossip",
            "--without-mingle",
            "--without-heartbeat",
            f"--concurrency={concurrency}",
            "--loglevel=WARNING",
        ],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def _database_env() -> dict:
    db = connection.settings_dict
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    env = {**os.environ, "DATABASE_URL": url, "LOG_LEVEL": "WARNING"}
    env.pop("TEST_DATABASE_NAME", None)
    return env


def _gunicorn(*, processes: int, threads: int) -> tuple[subprocess.Popen, int]:
    """Start gunicorn on the benchmark's database (gthread workers, keep-alive); its port."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    root = Path(__file__).resolve().parent.parent
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi",
            f"--workers={processes}",
            "--worker-class=gthread",
            f"--threads={threads}",
            "--keep-alive=30",
            f"--bind=127.0.0.1:{port}",
            "--log-level=warning",
        ],
        cwd=root,
        env=_database_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return server, port
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("gunicorn did not start.")


_HTTP = threading.local()


def _deliver_http(body: bytes):
    import http.client

    secret = settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]
    conn = getattr(_HTTP, "conn", None)
    if conn is None:
        conn = _HTTP.conn = http.client.HTTPConnection("127.0.0.1", HTTP_PORT[0], timeout=60)
    started = time.perf_counter()
    conn.request(
        "POST",
        URL,
        body,
        {
            "Content-Type": "application/json",
            "X-Signature": signature_header_make(secret=secret, body=body),
        },
    )
    response = conn.getresponse()
    response.read()
    return response.status, time.perf_counter() - started


HTTP_PORT = [0]


def _worker_ready(timeout: float = 60) -> None:
    from celery import current_app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if current_app.control.ping(timeout=1.0):
                return
        except Exception:
            pass
        time.sleep(0.5)
    raise RuntimeError("The Celery worker did not start.")


def _prepare(*, payments: int, per_user: int):
    from decimal import Decimal

    from accounts.models import User
    from catalog import services as catalog_services
    from inventory import services as inventory_services
    from orders import services as order_services

    settings.PAYMENT_GATEWAYS = {
        "dummy": {**settings.PAYMENT_GATEWAYS["dummy"], "AUTO_SETTLE": False}
    }
    products = []
    for i in range(20):
        product = catalog_services.product_create(
            sku=f"BENCH-WH-{i:02d}", name=f"Bench product {i}", price=Decimal("19.90") + i
        )
        inventory_services.stock_receive(
            stock_item=inventory_services.stock_item_for_product(product=product),
            quantity=payments,
        )
        products.append(product)
    made = []
    for i in range(payments):
        if i % per_user == 0:
            user = User.objects.create_user(f"bench{i}@example.com", None, email_verified=True)
        cart = order_services.cart_get_or_create(user=user)
        product = products[i % len(products)]
        order_services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
        order, _ = order_services.order_checkout(
            user=user, shipping_address=ADDRESS, idempotency_key=uuid.uuid4().hex
        )
        payment, _ = payment_services.payment_start(
            order=order,
            gateway="dummy",
            details={"card_number": "4000000000003220"},
            idempotency_key=uuid.uuid4().hex,
        )
        assert payment.status == "pending", payment.status
        made.append(payment)
    return made


def _events(payments, *, late_failures: float, rng: random.Random) -> list[bytes]:
    bodies = []
    for payment in payments:
        data = {
            "payment": payment.gateway_reference,
            "amount": f"{payment.amount:.2f}",
            "currency": payment.currency,
        }
        bodies.append(
            json.dumps({"id": f"evt_ok_{payment.pk}", "type": "payment.succeeded", "data": data})
        )
        if rng.random() < late_failures:
            failed = {**data, "failure_code": "card_declined"}
            bodies.append(
                json.dumps(
                    {"id": f"evt_fail_{payment.pk}", "type": "payment.failed", "data": failed}
                )
            )
    return [body.encode() for body in bodies]


def _deliver(body: bytes):
    secret = settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]
    client = APIClient()
    started = time.perf_counter()
    response = client.generic(
        "POST",
        URL,
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature_header_make(secret=secret, body=body),
    )
    return response.status_code, time.perf_counter() - started


def _deliver_share(share, threads, ready, go, out):
    """One web process's share of the deliveries, from its own thread pool."""
    connections.close_all()
    barrier = threading.Barrier(threads)

    def warm(_):
        # Open every thread's connection first so the run measures webhooks, not connects.
        connections["default"].ensure_connection()
        barrier.wait()

    def close(_):
        connections.close_all()
        barrier.wait()  # one call per thread, so every thread closes its own connection

    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(warm, range(threads)))
        ready.wait()
        go.wait()
        out.put(list(pool.map(_deliver_http if HTTP_PORT[0] else _deliver, share)))
        list(pool.map(close, range(threads)))


def _deliver_all(deliveries, *, processes: int, threads: int):
    """Send every delivery from `processes` forked processes of `threads` threads each."""
    import multiprocessing

    context = multiprocessing.get_context("fork")
    connections.close_all()
    ready, go = context.Barrier(processes + 1), context.Barrier(processes + 1)
    out = context.Queue()
    shares = [deliveries[i::processes] for i in range(processes)]
    children = [
        context.Process(target=_deliver_share, args=(share, threads, ready, go, out))
        for share in shares
    ]
    for child in children:
        child.start()
    ready.wait()  # every process has its connections open
    go.wait()
    results = [result for _ in children for result in out.get()]
    for child in children:
        child.join()
    return results


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--copies", type=int, default=3, help="deliveries of each event")
    parser.add_argument("--late-failures", type=float, default=0.3)
    parser.add_argument("--processes", type=int, default=4, help="web processes (gunicorn's)")
    parser.add_argument("--workers", type=int, default=4, help="threads per web process")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument(
        "--inline", action="store_true", help="no worker: process in the request (the old way)"
    )
    parser.add_argument(
        "--http",
        action="store_true",
        help="over HTTP to gunicorn (--processes workers x --workers threads), as in production",
    )
    parser.add_argument("--drain-timeout", type=float, default=300)
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    if connection.vendor != "postgresql":
        print("benchmarks/webhooks.py needs PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 2

    old_config = setup_databases(verbosity=0, interactive=False)
    try:
        from orders.models import OrderEvent
        from payments.models import Payment, WebhookEvent

        rng = random.Random(args.seed)
        payments = _prepare(payments=args.payments, per_user=10)
        events = _events(payments, late_failures=args.late_failures, rng=rng)
        deliveries = [body for body in events for _ in range(args.copies)]
        rng.shuffle(deliveries)
        worker = None if args.inline else _worker(args.celery_concurrency)
        server = None
        try:
            if worker is not None:
                _worker_ready()
            if args.http:
                server, HTTP_PORT[0] = _gunicorn(processes=args.processes, threads=args.workers)
            connection.close()

            began = time.perf_counter()
            results = _deliver_all(deliveries, processes=args.processes, threads=args.workers)
            acked = time.perf_counter() - began

            # The worker drains the inbox; wait until every stored event is processed.
            deadline = time.monotonic() + args.drain_timeout
            while time.monotonic() < deadline:
                left = WebhookEvent.objects.filter(
                    signature_valid=True, processed_at__isnull=True
                ).count()
                if not left:
                    break
                time.sleep(0.05)
            processed_wall = time.perf_counter() - began
        finally:
            if server is not None:
                server.terminate()
                server.wait(timeout=30)
            if worker is not None:
                worker.terminate()
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()

        statuses = Counter(status for status, _ in results)
        times = sorted(elapsed for _, elapsed in results)
        stored = WebhookEvent.objects.filter(signature_valid=True).count()
        unprocessed = WebhookEvent.objects.filter(
            signature_valid=True, processed_at__isnull=True
        ).count()
        processed = WebhookEvent.objects.filter(
            signature_valid=True, processed_at__isnull=False
        ).count()
        # Processed more than once: an event applied twice pays its order twice (two
        # `paid` steps, two stock commits).
        double = sum(
            1
            for n in Counter(
                OrderEvent.objects.filter(to_status="paid").values_list("order_id", flat=True)
            ).values()
            if n > 1
        )
        lost = (len(events) - stored) + unprocessed
        not_succeeded = Payment.objects.exclude(status="succeeded").count()

        def pct(q):
            return times[min(len(times) - 1, round(q * (len(times) - 1)))] * 1000

        print(
            f"webhook benchmark: {args.payments} payments, {len(events)} distinct events "
            f"({len(events) - args.payments} late payment.failed), each delivered "
            f"{args.copies}x = {len(deliveries)} deliveries, {args.processes} processes x "
            f"{args.workers} threads"
            + (" (gunicorn over HTTP)" if args.http else " (in-process test client)")
            + ", PostgreSQL, "
            + (
                "processed in the request (--inline)"
                if args.inline
                else f"Celery worker (concurrency {args.celery_concurrency})"
            )
        )
        print(f"  answers                 {dict(statuses)}")
        print(f"  events stored           {stored} (processed {processed}, left {unprocessed})")
        print(f"  double-processed events {double}")
        print(f"  lost events             {lost}")
        print(f"  payments not succeeded  {not_succeeded}")
        print(
            f"  delivery time           median {statistics.median(times) * 1000:.1f} ms, "
            f"p95 {pct(0.95):.1f} ms"
        )
        print(
            f"  deliveries acknowledged {len(deliveries) / acked:.0f}/s "
            f"(all {len(deliveries)} in {acked:.2f} s)"
        )
        print(
            f"  events processed        {processed / processed_wall:.0f}/s "
            f"(first delivery to last processed: {processed_wall:.2f} s)"
        )
        ok = (
            double == 0
            and lost == 0
            and stored == len(events)
            and not_succeeded == 0
            and set(statuses) == {200}
        )
        return 0 if ok else 1
    finally:
        connections.close_all()
        teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
