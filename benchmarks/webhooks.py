"""Webhook inbox under load: deliveries acknowledged per second, events processed per second.

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL; the broker is CELERY_BROKER_URL or
REDIS_URL). Builds a throw-away database (`bench_webhooks_payments`), places orders and
starts a pending dummy payment for each through the services, starts a real Celery worker on
that database, then fires the provider's webhooks through the real endpoint (POST
/api/v1/payments/webhooks/dummy/, HMAC-signed raw bodies): in-process from a thread pool
(each thread on its own database connection), or with `--http` over HTTP to gunicorn
(deploy/gunicorn.conf.py, --processes x --workers) from --processes x --workers keep-alive
connections driven by one event loop. A warm-up batch is delivered and processed first.
Every payment gets `payment.succeeded`; a share also gets a late `payment.failed` (out of
order); every event is delivered `--copies` times, shuffled. A delivery is acknowledged once
verified and stored; the worker drains the inbox after. Prints deliveries acknowledged per
second, events processed per second (first delivery to last event processed), events
processed more than once and events lost (both must be 0), and exits non-zero otherwise.
With `--http`, also the CPU each role spent while acknowledging (web, worker, database,
client, Redis) and how the connections were spread over gunicorn's workers.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/webhooks.py
    options: --payments 300 --copies 3 --late-failures 0.3 --processes 4 --workers 4
             --celery-concurrency 2 --warmup 64 --http --inline
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
    # The production settings (deploy/gunicorn.conf.py: gthread workers), with the
    # benchmark's processes, threads and port, and a keep-alive that outlasts the run.
    env = {
        **_database_env(),
        "GUNICORN_WORKERS": str(processes),
        "GUNICORN_THREADS": str(threads),
        "GUNICORN_BIND": f"127.0.0.1:{port}",
    }
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "--config=deploy/gunicorn.conf.py",
            "--keep-alive=30",
            "--log-level=warning",
        ],
        cwd=root,
        env=env,
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


def _signed(bodies: list[bytes]) -> list[tuple[bytes, str]]:
    """Sign every body now, as the provider would (the signatures stay valid 5 minutes), so
    the timed run measures the shop, not the sender's HMACs."""
    secret = settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]
    return [(body, signature_header_make(secret=secret, body=body)) for body in bodies]


class _Connection:
    """One keep-alive HTTP/1.1 connection of the sender, with what it is waiting for."""

    def __init__(self, port: int):
        import socket

        self.sock = socket.create_connection(("127.0.0.1", port), timeout=60)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buffer = b""
        self.index = None  # the request in flight
        self.started = 0.0

    def answer(self):
        """Return (status, keep-alive) once a whole answer is buffered, else None."""
        end = self.buffer.find(b"\r\n\r\n")
        if end < 0:
            return None
        lines = self.buffer[:end].split(b"\r\n")
        headers = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(b":") for line in lines[1:])
        }
        if b"content-length" not in headers:
            raise RuntimeError(f"An answer without Content-Length: {lines[0]!r}")
        total = end + 4 + int(headers[b"content-length"])
        if len(self.buffer) < total:
            return None
        self.buffer = self.buffer[total:]
        keep_alive = headers.get(b"connection", b"").lower() != b"close"
        return int(lines[0].split()[1]), keep_alive


class _Sender:
    """`concurrency` keep-alive connections driven by one event loop in this process.

    Pre-built, pre-signed requests; each connection sends its next request as soon as the
    last one is answered. One process with no threads costs the machine far less than a
    thread per connection, and the sender shares the machine's cores with the shop.
    """

    def __init__(self, port: int, concurrency: int):
        self.port = port
        self.connections = [_Connection(port) for _ in range(concurrency)]

    def run(self, requests: list[bytes]) -> list[tuple[int, float]]:
        import selectors
        from collections import deque

        results = [None] * len(requests)
        waiting = deque(range(len(requests)))
        selector = selectors.DefaultSelector()

        def send_next(conn: _Connection) -> bool:
            if not waiting:
                return False
            conn.index = waiting.popleft()
            conn.started = time.perf_counter()
            conn.sock.sendall(requests[conn.index])
            return True

        for conn in self.connections:
            if send_next(conn):
                selector.register(conn.sock, selectors.EVENT_READ, conn)
        while selector.get_map():
            for key, _ in selector.select(timeout=60):
                conn = key.data
                chunk = conn.sock.recv(65536)
                if not chunk:
                    raise RuntimeError("The server closed a connection before answering.")
                conn.buffer += chunk
                answer = conn.answer()
                if answer is None:
                    continue
                status, keep_alive = answer
                results[conn.index] = (status, time.perf_counter() - conn.started)
                if not keep_alive:  # the server ended it: open another in its place
                    selector.unregister(conn.sock)
                    conn.sock.close()
                    fresh = _Connection(self.port)
                    self.connections[self.connections.index(conn)] = fresh
                    if send_next(fresh):
                        selector.register(fresh.sock, selectors.EVENT_READ, fresh)
                elif not send_next(conn):
                    selector.unregister(conn.sock)
        selector.close()
        return results

    def close(self) -> None:
        for conn in self.connections:
            conn.sock.close()


def _request_bytes(body: bytes, signature: str) -> bytes:
    head = (
        f"POST {URL} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nX-Signature: {signature}\r\n\r\n"
    )
    return head.encode() + body


def _deliver_all_http(deliveries, *, warmup, concurrency: int, settled):
    """Send every delivery over `concurrency` keep-alive connections to gunicorn.

    The warm-up goes first on the same connections, so the timed run meets a running shop
    (gunicorn's workers booted, their threads connected), as the issue measured it.
    Returns (results, seconds from the first request to the last answer).
    """
    sender = _Sender(HTTP_PORT[0], concurrency)
    try:
        sender.run([_request_bytes(*delivery) for delivery in warmup])
        requests = [_request_bytes(*delivery) for delivery in deliveries]
        settled()
        began = time.perf_counter()
        results = sender.run(requests)
        seconds = time.perf_counter() - began
        SPREAD[:] = _connections_per_web_process(HTTP_PORT[0])
        return results, seconds
    finally:
        sender.close()


def _connections_per_web_process(port: int) -> list[int]:
    """How many of the sender's connections each gunicorn worker holds (Linux /proc)."""
    inodes = set()
    try:
        with open("/proc/net/tcp") as f:
            for line in f.readlines()[1:]:
                fields = line.split()
                local_port = int(fields[1].rpartition(":")[2], 16)
                if local_port == port and fields[3] == "01":  # ESTABLISHED, server side
                    inodes.add(f"socket:[{fields[9]}]")
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return []
    gunicorn = {}  # pid: parent pid
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                if b"gunicorn" in f.read():
                    with open(f"/proc/{pid}/stat") as stat:
                        gunicorn[pid] = stat.read().rpartition(")")[2].split()[1]
        except OSError:
            continue
    masters = {pid for pid, parent in gunicorn.items() if parent == str(os.getpid())}
    counts = []
    for pid, parent in gunicorn.items():
        if parent not in masters:
            continue  # the master (it holds no connection) or another gunicorn's
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
            counts.append(sum(os.readlink(f"/proc/{pid}/fd/{fd}") in inodes for fd in fds))
        except OSError:
            continue
    return sorted(counts, reverse=True)


HTTP_PORT = [0]
SPREAD: list[int] = []  # connections held by each gunicorn worker at the end of the run
TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _cpu_seconds(database: str) -> Counter:
    """CPU seconds used so far, by role: web (gunicorn), worker (Celery), database (this
    database's PostgreSQL backends), broker/cache (Redis), client (this process and the
    forked senders it has reaped). Linux /proc; empty elsewhere."""
    import resource

    used = Counter()
    for usage in (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN):
        r = resource.getrusage(usage)
        used["client"] += r.ru_utime + r.ru_stime
    try:
        pids = [name for name in os.listdir("/proc") if name.isdigit()]
    except OSError:
        return used
    for pid in pids:
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rpartition(")")[2].split()
        except OSError:
            continue
        seconds = (int(fields[11]) + int(fields[12])) / TICK  # utime, stime
        if "gunicorn" in cmdline:
            used["web"] += seconds
        elif "celery" in cmdline:
            used["worker"] += seconds
        elif cmdline.startswith("postgres:") and f" {database} " in cmdline:
            used["database"] += seconds
        elif "redis-server" in cmdline:
            used["redis"] += seconds
    return used


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


def _deliver(delivery: tuple[bytes, str]):
    body, signature = delivery
    client = APIClient()
    started = time.perf_counter()
    response = client.generic(
        "POST",
        URL,
        body,
        content_type="application/json",
        HTTP_X_SIGNATURE=signature,
    )
    return response.status_code, time.perf_counter() - started


def _deliver_share(warmup, share, threads, ready, go, out):
    """One sending process's share of the deliveries, from its own thread pool.

    The warm-up share goes first, on the same database connections, so the timed run
    meets a running shop.
    """
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
        list(pool.map(_deliver, warmup))
        ready.wait()
        go.wait()
        out.put(list(pool.map(_deliver, share)))
        list(pool.map(close, range(threads)))


def _deliver_all(deliveries, *, warmup, processes: int, threads: int, settled):
    """Send every delivery from `processes` forked processes of `threads` threads each.

    Returns (results, seconds from the start signal to the last answer). `settled()` runs
    between the warm-up and the timed run (waits for the warm-up's events to be processed).
    """
    import multiprocessing

    context = multiprocessing.get_context("fork")
    connections.close_all()
    ready, go = context.Barrier(processes + 1), context.Barrier(processes + 1)
    out = context.Queue()
    children = [
        context.Process(
            target=_deliver_share,
            args=(warmup[i::processes], deliveries[i::processes], threads, ready, go, out),
        )
        for i in range(processes)
    ]
    for child in children:
        child.start()
    ready.wait()  # every process has warmed up
    settled()
    connections.close_all()
    go.wait()
    began = time.perf_counter()
    results = [result for _ in children for result in out.get()]
    elapsed = time.perf_counter() - began
    for child in children:
        child.join()
    return results, elapsed


def _inbox_wait(*, timeout: float) -> None:
    """Wait until every stored event is processed (or the timeout passes)."""
    from payments.models import WebhookEvent

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not WebhookEvent.objects.filter(
            signature_valid=True, processed_at__isnull=True
        ).exists():
            return
        time.sleep(0.05)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--payments", type=int, default=300)
    parser.add_argument("--copies", type=int, default=3, help="deliveries of each event")
    parser.add_argument("--late-failures", type=float, default=0.3)
    parser.add_argument("--processes", type=int, default=4, help="web processes (gunicorn's)")
    parser.add_argument("--workers", type=int, default=4, help="threads per web process")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--warmup", type=int, default=64, help="payments settled before the timed run"
    )
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
        made = _prepare(payments=args.warmup + args.payments, per_user=10)
        warm_payments, payments = made[: args.warmup], made[args.warmup :]
        warmup = _signed(_events(warm_payments, late_failures=0, rng=rng))
        events = _events(payments, late_failures=args.late_failures, rng=rng)
        event_ids = [json.loads(body)["id"] for body in events]
        deliveries = [body for body in events for _ in range(args.copies)]
        rng.shuffle(deliveries)
        deliveries = _signed(deliveries)
        measured = WebhookEvent.objects.filter(signature_valid=True, event_id__in=event_ids)
        worker = None if args.inline else _worker(args.celery_concurrency)
        server = None
        database = connection.settings_dict["NAME"]
        cpu_before = Counter()
        try:
            if worker is not None:
                _worker_ready()
            if args.http:
                server, HTTP_PORT[0] = _gunicorn(processes=args.processes, threads=args.workers)
            connection.close()

            def settled():
                # The warm-up's events processed: the worker is idle when the run starts.
                _inbox_wait(timeout=args.drain_timeout)
                cpu_before.update(_cpu_seconds(database))

            if args.http:
                results, acked = _deliver_all_http(
                    deliveries,
                    warmup=warmup,
                    concurrency=args.processes * args.workers,
                    settled=settled,
                )
            else:
                results, acked = _deliver_all(
                    deliveries,
                    warmup=warmup,
                    processes=args.processes,
                    threads=args.workers,
                    settled=settled,
                )
            cpu = _cpu_seconds(database)
            cpu.subtract(cpu_before)
            began = time.perf_counter() - acked

            # The worker drains the inbox; wait until every stored event is processed.
            _inbox_wait(timeout=args.drain_timeout)
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
        stored = measured.count()
        unprocessed = measured.filter(processed_at__isnull=True).count()
        processed = measured.filter(processed_at__isnull=False).count()
        # Processed more than once: an event applied twice pays its order twice (two
        # `paid` steps, two stock commits). Warm-up orders are checked too.
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
            "  CPU while acknowledging "
            + ", ".join(f"{role} {seconds:.2f} s" for role, seconds in cpu.most_common())
            + f" (of {acked * (os.cpu_count() or 1):.2f} s on {os.cpu_count()} cores)"
        )
        if SPREAD:
            print(f"  connections per web process {', '.join(map(str, SPREAD))} (gunicorn workers)")
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
