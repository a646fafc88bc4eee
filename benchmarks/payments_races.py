"""Payments under races and forgeries, measured from outside (issue 11's first part).

Needs PostgreSQL (DATABASE_URL) and Redis (REDIS_URL; this benchmark uses its database 5
for the cache and the broker). Builds a throw-away database (`bench_payments_races`),
starts gunicorn (deploy/gunicorn.conf.py, --processes x --threads) and a real Celery worker
on it (benchmarks/webhooks.py's helpers), places orders through the services and then does
everything a client does over HTTP, each concurrent request from its own thread on its own
keep-alive connection, shoppers and staff signed in through POST /api/v1/auth/login/:

1. five concurrent POST /api/v1/orders/{number}/payments/ (test card, five Idempotency-Keys)
   on one fresh order: the answers, the payments, the charges the dummy provider took (its
   own ledger, DummyProviderRecord), the refunds and the charge-then-refund pairs. Rule: at
   most one charge per order, no charge-then-refund pair.
2. four browser tabs of one signed-in session submitting the pay page's test-card form at
   once (the page flow). Same rule.
3. a payment start racing the shopper's POST /api/v1/orders/{number}/cancel/ (the cancel
   sent 10 ms before, with, or 10 or 20 ms after the payment). Rule: paid (the cancel
   refused) or cancelled with nothing captured; never captured and then refunded.
4. correctly signed `payment.succeeded` webhooks for a pending (hosted checkout) payment with
   amount "0.01", with currency "USD" and with no amount, plus a matching one as a control,
   processed by the worker. Rule: a forged event leaves the order unpaid and the payment in
   review with a reason; the matching one pays its order.
5. 20 refused 80 KB webhook posts (no or a wrong signature): the answers and the inbox's
   growth (stored body bytes, pg_total_relation_size). Rule: at most 1 KB stored each.
6. a paid order refunded in full by Finance staff (POST /api/v1/payments/{id}/refunds/),
   Warehouse staff then moving it to processing at once (the worker may not have called the
   provider yet) and to shipped once the refund is through. Rule: the order ends refunded,
   both moves refused with a 409 and a code, the stock back as before the order.

Prints a table per scenario (a row per trial), then the stock ledger check and the server
errors seen, and a last line `violations: N`; exits 1 when N > 0.

    DATABASE_URL=postgres://root@127.0.0.1:5432/shop REDIS_URL=redis://127.0.0.1:6379/0 \
        .venv/bin/python benchmarks/payments_races.py
    options: --trials 8 --processes 4 --threads 4 --celery-concurrency 2 --keep-db
"""

import argparse
import html
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ["TEST_DATABASE_NAME"] = "bench_payments_races"
os.environ["EMAIL_URL"] = "dummymail://"
os.environ["DJANGO_DEBUG"] = "false"
# Redis database 5 for the cache (throttles, the drain flag) and the broker, apart from
# the other benchmarks' and the tests' databases.
_redis = urlsplit(os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/0")
os.environ["REDIS_URL"] = urlunsplit(_redis._replace(path="/5"))
os.environ["CELERY_BROKER_URL"] = os.environ["REDIS_URL"]
os.environ["CACHE_KEY_PREFIX"] = "bench_payments_races"
for _scope in ("ANON", "USER", "LOGIN", "CHECKOUT", "WEBHOOK"):
    os.environ[f"THROTTLE_{_scope}"] = "1000000/min"
os.environ["FRAUD_MAX_ORDERS_PER_HOUR"] = "1000000"

import django  # noqa: E402

django.setup()  # before benchmarks.webhooks, which names its own test database

import requests  # noqa: E402
from django.contrib.auth.models import Group  # noqa: E402
from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test.utils import setup_databases, teardown_databases  # noqa: E402

from accounts import roles  # noqa: E402
from accounts.models import User  # noqa: E402
from benchmarks.webhooks import ADDRESS, URL, _gunicorn, _signed, _worker, _worker_ready  # noqa: E402
from catalog import services as catalog_services  # noqa: E402
from inventory import selectors as inventory_selectors  # noqa: E402
from inventory import services as inventory_services  # noqa: E402
from orders import services as order_services  # noqa: E402
from orders.models import Order  # noqa: E402
from payments.models import DummyProviderRecord, Payment, Refund, WebhookEvent  # noqa: E402

CARD_OK = "4242424242424242"
PASSWORD = "bench-Races-Password-9"
BASE = [""]  # http://127.0.0.1:<gunicorn's port>
SERVER_ERRORS: list[str] = []  # every 5xx answer seen
PAYMENT = DummyProviderRecord.Kind.PAYMENT
REFUND = DummyProviderRecord.Kind.REFUND


# -- HTTP ---------------------------------------------------------------------------------
def _http(session, method, path, *, token="", key="", **kwargs) -> requests.Response:
    headers = kwargs.pop("headers", {})
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if key:
        headers["Idempotency-Key"] = key
    response = session.request(
        method, BASE[0] + path, headers=headers, timeout=60, allow_redirects=False, **kwargs
    )
    if response.status_code >= 500:
        SERVER_ERRORS.append(f"{method} {path} -> {response.status_code}: {response.text[:300]}")
    return response


def _answer(response) -> str:
    """`201`, or `409 payment_in_progress`: the status and, for an error, its code."""
    if response.status_code < 400:
        return str(response.status_code)
    try:
        code = response.json().get("code", "?")
    except ValueError:
        code = "(not JSON)"
    return f"{response.status_code} {code}"


def _connect(session) -> None:
    """Open the session's connection (a request the shop answers at once)."""
    _http(session, "GET", "/healthz")


def _together(*calls, prepare=_connect) -> list:
    """Run each call in its own thread on its own keep-alive connection, released at once.

    Each thread runs `prepare(session)` first (by default it opens the connection), waits
    for the others, then `call(session, prepared)`. Returns the calls' results (an exception
    is returned as it is).
    """
    barrier = threading.Barrier(len(calls))

    def run(call):
        with requests.Session() as session:
            try:
                prepared = prepare(session)
                barrier.wait(timeout=60)
                return call(session, prepared)
            except Exception as exc:
                return exc

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:  # a thread per call
        return list(pool.map(run, calls))


def _login(email: str) -> str:
    login = {"email": email, "password": PASSWORD}
    response = _http(requests.Session(), "POST", "/api/v1/auth/login/", json=login)
    if response.status_code != 200:
        raise RuntimeError(f"login of {email}: {_answer(response)} {response.text[:200]}")
    return response.json()["access"]


def _web_login(email: str) -> requests.Session:
    """A browser session signed in through the login page."""
    session = requests.Session()
    page = _http(session, "GET", "/account/login/")
    form = {"email": email, "password": PASSWORD, "csrfmiddlewaretoken": _field(page.text, "csrf")}
    response = _http(session, "POST", "/account/login/", data=form)
    if response.status_code != 302:
        raise RuntimeError(f"page login of {email}: {response.status_code}")
    return session


def _field(html: str, name: str) -> str:
    if name == "csrf":
        name = "csrfmiddlewaretoken"
    found = re.search(rf'name="{name}" value="([^"]+)"', html)
    if found is None:
        raise RuntimeError(f"no {name} field on the page")
    return found.group(1)


def _pay(token: str, order: Order, **body):
    """POST a payment for the order as its owner (the test card unless told otherwise)."""
    body = {"gateway": "dummy", "card_number": CARD_OK, **body}
    path = f"/api/v1/orders/{order.number}/payments/"

    def call(session, _prepared=None):
        return _http(session, "POST", path, token=token, key=uuid.uuid4().hex, json=body)

    return call


# -- the shop's side: users, products, orders, and what moved -----------------------------
def _user(email: str, role: str = "") -> User:
    user = User.objects.create_user(email, PASSWORD, email_verified=True, is_staff=bool(role))
    if role:
        user.groups.add(Group.objects.get(name=role))
    return user


def _shopper(name: str) -> tuple[User, str]:
    user = _user(f"{name}@bench.example.com")
    return user, _login(user.email)


def _product(price: str, stock: int):
    product = catalog_services.product_create(
        sku=f"BENCH-RACE-{uuid.uuid4().hex[:8]}", name="Race product", price=Decimal(price)
    )
    item = inventory_services.stock_item_for_product(product=product)
    inventory_services.stock_receive(stock_item=item, quantity=stock)
    return product


def _order(user: User, product, quantity: int = 1) -> Order:
    cart = order_services.cart_get_or_create(user=user)
    order_services.cart_item_add(cart=cart, product_id=product.pk, quantity=quantity)
    key = uuid.uuid4().hex
    order, _ = order_services.order_checkout(
        user=user, shipping_address=ADDRESS, idempotency_key=key
    )
    return order


def _stock(product) -> tuple[int, int, int]:
    item = inventory_services.stock_item_for_product(product=product)
    return item.on_hand, item.reserved, item.available


def _until(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.1)
    return check()


def _refunds_settled() -> bool:
    """Wait (up to 60 s) until the worker has called the provider for every refund."""
    return _until(lambda: not Refund.objects.filter(status="processing").exists())


def _money(order: Order) -> dict:
    """What moved for the order: its payments, the provider's charges and refunds, pairs."""
    order.refresh_from_db()
    payments = list(Payment.objects.filter(order=order).order_by("pk"))
    references = [p.gateway_reference for p in payments if p.gateway_reference]
    ledger = DummyProviderRecord.objects.filter(status="succeeded")
    refunds = Refund.objects.filter(payment__order=order)
    return {
        "order": order.status,
        "payments": ",".join(p.status for p in payments) or "-",
        # Charges the provider took for this order, whether or not a Payment row records them
        # (the provider key is `pay-<order number>-<digest of the client's key>`).
        "charges": ledger.filter(kind=PAYMENT, key__startswith=f"pay-{order.number}-").count(),
        "refunds": refunds.count(),
        "provider_refunds": ledger.filter(kind=REFUND, payment_reference__in=references).count(),
        # A payment that took money and got (some of) it back with no one asking.
        "pairs": refunds.values("payment").distinct().count(),
    }


class Table:
    """A compact table: a header, a row per trial, a total line; counts the violations."""

    def __init__(self, title: str, columns: str):
        """`columns`: "name:width, name:width, ..."."""
        self.columns = [
            (name, int(width))
            for name, _, width in (c.rpartition(":") for c in columns.split(", "))
        ]
        self.violations = 0
        print(f"\n{title}")
        print("  " + " ".join(name.ljust(width) for name, width in self.columns))

    def row(self, *values, broken: str = "") -> None:
        cells = [str(v).ljust(width) for v, (_, width) in zip(values, self.columns, strict=True)]
        print("  " + " ".join(cells) + (f"  VIOLATION: {broken}" if broken else ""))
        self.violations += bool(broken)

    def total(self, text: str) -> int:
        print(f"  total: {text}; violations {self.violations}")
        return self.violations


def _codes(answers) -> str:
    counts = Counter(a if isinstance(a, str) else f"error {type(a).__name__}" for a in answers)
    return ", ".join(f"{n}x {answer}" for answer, n in sorted(counts.items()))


CHARGES_COLUMNS = "trial:5, answers:62, payments:30, charges:7, refunds:7, pairs:5, order:10"


def _charges_row(table: "Table", trial: int, answers: list, order: Order, totals: Counter):
    """One trial of concurrent payment attempts: what was answered, what the provider took."""
    answers = [a if isinstance(a, str) else f"error {type(a).__name__}: {a}" for a in answers]
    _refunds_settled()
    moved = _money(order)
    totals.update(answers)
    totals.update(charges=moved["charges"], pairs=moved["pairs"], refunds=moved["refunds"])
    broken = []
    if moved["charges"] > 1:
        broken.append(f"{moved['charges']} charges")
    if moved["pairs"]:
        broken.append(f"{moved['pairs']} charge-then-refund pairs")
    table.row(
        trial,
        _codes(answers),
        moved["payments"],
        moved["charges"],
        f"{moved['refunds']}/{moved['provider_refunds']}",
        moved["pairs"],
        moved["order"],
        broken="; ".join(broken),
    )


def _charges_total(table: "Table", totals: Counter, trials: int) -> int:
    answered = {k: v for k, v in totals.items() if k not in ("charges", "pairs", "refunds")}
    return table.total(
        f"{_codes(Counter(answered).elements())}; charges {totals['charges']} for {trials} "
        f"orders; refunds (rows) {totals['refunds']}; pairs {totals['pairs']}"
    )


def _charges_scenario(title: str, trials: int, user: User, race) -> int:
    """`trials` fresh orders of the user, each raced by `race(order)` (its answers)."""
    product = _product("14.90", stock=trials * 2)
    table = Table(title, CHARGES_COLUMNS)
    totals = Counter()
    for trial in range(1, trials + 1):
        order = _order(user, product)
        _charges_row(table, trial, race(order), order, totals)
    return _charges_total(table, totals, trials)


# -- the scenarios ------------------------------------------------------------------------
def concurrent_starts(trials: int) -> int:
    user, token = _shopper("starts")

    def race(order):
        answers = _together(*[_pay(token, order)] * 5)
        return [a if isinstance(a, Exception) else _answer(a) for a in answers]

    return _charges_scenario(
        "1. five concurrent POST /orders/{number}/payments/ (test card, five keys), one order",
        trials,
        user,
        race,
    )


def four_tabs(trials: int) -> int:
    user = _user("tabs@bench.example.com")
    browser = _web_login(user.email)

    def race(order):
        path = f"/orders/{order.number}/pay/"

        def load(session):
            """The tab opens the pay page; its card form, filled in."""
            session.cookies.update(browser.cookies)  # the same signed-in session
            card_form = _http(session, "GET", path).text.partition('data-testid="payment-form"')
            return {
                "card_number": CARD_OK,
                "idempotency_key": _field(card_form[2], "idempotency_key"),
                "csrfmiddlewaretoken": _field(card_form[2], "csrf"),
            }

        def submit(session, form):
            response = _http(session, "POST", path, data=form)
            if response.headers.get("Location", "") == f"{path}success/":
                return "302 to success"
            told = re.search(r'<p class="error">([^<]*)</p>', response.text)
            if told is None:
                return f"{response.status_code} {response.headers.get('Location', '')}"
            if told.group(1) == "Another payment for this order is in progress.":
                return f"{response.status_code} told in progress"
            return f'{response.status_code} told "{html.unescape(told.group(1))}"'

        return _together(*[submit] * 4, prepare=load)

    return _charges_scenario(
        "2. four browser tabs of one session submitting the pay page's test-card form at once",
        trials,
        user,
        race,
    )


def pay_racing_cancel(trials: int) -> int:
    user, token = _shopper("cancel")
    product = _product("14.90", stock=trials * 2)
    table = Table(
        "3. a payment start racing the shopper's cancel (`first`: which goes how much earlier)",
        "trial:5, first:14, pay:24, cancel:24, order:10, payments:12, charges:7, refunds:7",
    )
    outcomes = Counter()
    for trial in range(1, trials + 1):
        order = _order(user, product)
        # The cancel goes 10 ms before the payment, with it, or 10 or 20 ms after it.
        lead = 0.01 * ((trial - 1) % 4 - 1)
        start, path = _pay(token, order), f"/api/v1/orders/{order.number}/cancel/"

        def pay(session, prepared, start=start, lead=lead):
            time.sleep(max(0.0, -lead))
            return start(session, prepared)

        def cancel(session, _prepared, path=path, lead=lead):
            time.sleep(max(0.0, lead))
            return _http(session, "POST", path, token=token)

        paid, cancelled = (
            r if isinstance(r, Exception) else _answer(r) for r in _together(pay, cancel)
        )
        _refunds_settled()
        moved = _money(order)
        broken = ""
        if moved["refunds"] or moved["pairs"]:
            broken = "captured, then refunded"
        elif moved["order"] == Order.Status.PAID:
            if moved["charges"] != 1 or not str(cancelled).startswith("409"):
                broken = f"paid with {moved['charges']} charges, cancel answered {cancelled}"
        elif moved["order"] == Order.Status.CANCELLED:
            if moved["charges"] or "succeeded" in moved["payments"]:
                broken = f"cancelled after {moved['charges']} charges"
        else:
            broken = f"ended {moved['order']}, neither paid nor cancelled"
        outcomes[moved["order"]] += 1
        table.row(
            trial,
            f"{'cancel' if lead < 0 else 'pay'} {abs(lead) * 1000:.0f} ms" if lead else "together",
            paid,
            cancelled,
            moved["order"],
            moved["payments"],
            moved["charges"],
            f"{moved['refunds']}/{moved['provider_refunds']}",
            broken=broken,
        )
    return table.total(", ".join(f"{status} {n}" for status, n in sorted(outcomes.items())))


FORGERIES = {
    "amount 0.01": {"amount": "0.01"},
    "currency USD": {"currency": "USD"},
    "no amount": {"amount": None},
    "matching (control)": {},
}


def forged_webhooks(trials: int) -> int:
    user, token = _shopper("forged")
    product = _product("10.00", stock=trials * len(FORGERIES))
    session = requests.Session()
    table = Table(
        "4. signed payment.succeeded webhooks for a pending hosted-checkout payment",
        "trial:5, event:19, amount:10, answer:7, order:16, payment:10, review reason:70",
    )
    seen = Counter()
    for trial in range(1, trials + 1):
        sent = []
        for kind, change in FORGERIES.items():
            order = _order(user, product)
            started = _pay(token, order, card_number="")(session)  # hosted: nothing to settle
            if started.status_code != 201:
                raise RuntimeError(f"hosted checkout: {_answer(started)} {started.text[:200]}")
            payment = Payment.objects.get(pk=started.json()["id"])
            data = {
                "payment": payment.gateway_reference,
                "key": payment.provider_key,
                "amount": f"{payment.amount:.2f}",
                "currency": payment.currency,
                **change,
            }
            event_id = f"evt_bench_{uuid.uuid4().hex}"
            body = json.dumps(
                {
                    "id": event_id,
                    "type": "payment.succeeded",
                    "created": int(time.time()),
                    "data": {k: v for k, v in data.items() if v is not None},
                }
            ).encode()
            [(body, signature)] = _signed([body])
            headers = {"Content-Type": "application/json", "X-Signature": signature}
            answer = _answer(_http(session, "POST", URL, data=body, headers=headers))
            sent.append((kind, order, payment, event_id, answer))
        ids = [event_id for *_, event_id, _ in sent]
        events = WebhookEvent.objects.filter(signature_valid=True, event_id__in=ids)
        _until(lambda events=events: not events.filter(processed_at__isnull=True).exists())
        for kind, order, payment, event_id, answer in sent:
            order.refresh_from_db()
            payment.refresh_from_db()
            processed = events.filter(event_id=event_id, processed_at__isnull=False).exists()
            state = order.status if processed else f"{order.status} (unprocessed)"
            broken = ""
            if not processed:
                broken = "the event was not processed in 60 s"
            elif kind.endswith("(control)"):
                if order.status != Order.Status.PAID:
                    broken = "a matching event did not pay the order"
            elif order.status != Order.Status.PENDING_PAYMENT:
                broken = f"a forged event left the order {order.status}"
            elif payment.status != "review" or not payment.review_reason:
                broken = f"payment {payment.status}, not held for review with a reason"
            seen[(kind, order.status, payment.status)] += 1
            table.row(
                trial,
                kind,
                f"{payment.amount} {payment.currency}",
                answer,
                state,
                payment.status,
                payment.review_reason.partition(": ")[2][:70] or payment.review_reason or "-",
                broken=broken,
            )
    return table.total(
        "; ".join(f"{kind}: {n}x order {o}, payment {p}" for (kind, o, p), n in seen.items())
    )


def _inbox_size() -> tuple[int, int, int]:
    """(last inbox row id, stored body bytes of refused rows, the table's total bytes)."""
    table = WebhookEvent._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT COALESCE(MAX(id), 0), COALESCE(SUM(octet_length(raw_body)) FILTER "
            f"(WHERE NOT signature_valid), 0), pg_total_relation_size(%s) FROM {table}",
            [table],
        )
        return cursor.fetchone()


def refused_flood(trials: int, *, posts: int = 20, size: int = 80 * 1024) -> int:
    session = requests.Session()
    table = Table(
        f"5. {posts} refused {size // 1024} KB webhook posts (half unsigned, half badly signed)",
        "trial:5, answers:34, rows:5, body bytes:11, max/row:8, table growth:13",
    )
    answers, stored, grown, rows_added = Counter(), 0, 0, 0
    for trial in range(1, trials + 1):
        last_id, body_before, size_before = _inbox_size()
        trial_answers = []
        for i in range(posts):
            event = {"id": f"evt_flood_{uuid.uuid4().hex}", "type": "payment.succeeded"}
            body = json.dumps({**event, "data": {"pad": "x" * size}}).encode()
            headers = {"Content-Type": "application/json"}
            if i % 2:
                headers["X-Signature"] = f"t={int(time.time())},v1={'0' * 64}"
            trial_answers.append(_answer(_http(session, "POST", URL, data=body, headers=headers)))
        _, body_after, size_after = _inbox_size()
        added = WebhookEvent.objects.filter(pk__gt=last_id)
        biggest = max((len(e.raw_body.encode()) for e in added), default=0)
        accepted = [a for a in trial_answers if not a.startswith("4")]
        broken = []
        if biggest > 1024:
            broken.append(f"{biggest} body bytes stored for one refused delivery")
        if accepted:
            broken.append(f"accepted: {_codes(accepted)}")
        answers.update(trial_answers)
        stored += body_after - body_before
        grown += size_after - size_before
        rows_added += added.count()
        table.row(
            trial,
            _codes(trial_answers),
            added.count(),
            body_after - body_before,
            biggest,
            f"{size_after - size_before:+d} B",
            broken="; ".join(broken),
        )
    count = trials * posts
    return table.total(
        f"{_codes(answers.elements())}; {rows_added} rows, {stored} body bytes "
        f"({stored / count:.0f} B per refused delivery), table {grown / 1024:+.0f} KB "
        f"for {count} posts of {size // 1024} KB"
    )


def refund_before_shipping(trials: int) -> int:
    user, token = _shopper("refunded")
    finance = _login(_user("finance@bench.example.com", roles.FINANCE).email)
    warehouse = _login(_user("warehouse@bench.example.com", roles.WAREHOUSE).email)
    session = requests.Session()
    table = Table(
        "6. full refund (Finance) of a paid order, then Warehouse moves it (processing, shipped)",
        "trial:5, pay:4, refund:7, refund then:11, ->processing:26, refund after:12, order:10, "
        "->shipped:26, stock before/after:24",
    )
    outcomes = Counter()
    for trial in range(1, trials + 1):
        product = _product("12.50", stock=10)
        before = _stock(product)
        order = _order(user, product, quantity=2)
        paid = _pay(token, order)(session)
        payment_id = paid.json()["id"] if paid.status_code == 201 else None
        refund = _http(
            session,
            "POST",
            f"/api/v1/payments/{payment_id}/refunds/",
            token=finance,
            key=uuid.uuid4().hex,
            json={"amount": f"{order.total:.2f}", "reason": "The customer changed their mind."},
        )
        transition = f"/api/v1/orders/{order.number}/transition/"
        refunds = Refund.objects.filter(payment_id=payment_id).values_list("status", flat=True)
        refund_then = refunds.first()  # the worker may not have called the provider yet
        early = _http(session, "POST", transition, token=warehouse, json={"status": "processing"})
        _refunds_settled()
        refund_status = refunds.first()
        ship = _http(session, "POST", transition, token=warehouse, json={"status": "shipped"})
        order.refresh_from_db()
        after = _stock(product)
        broken = []
        if order.status != Order.Status.REFUNDED:
            broken.append(f"order {order.status}, not refunded")
        for name, move in (("processing", early), ("shipped", ship)):
            if move.status_code != 409 or _answer(move) == "409 ?":
                broken.append(f"->{name} answered {_answer(move)}")
        if after != before:
            broken.append(f"stock {before} -> {after}")
        outcomes[(order.status, _answer(early), _answer(ship))] += 1
        table.row(
            trial,
            paid.status_code,
            _answer(refund),
            refund_then or "-",
            _answer(early),
            refund_status or "-",
            order.status,
            _answer(ship),
            f"{before}/{after}",
            broken="; ".join(broken),
        )
    return table.total(
        "; ".join(
            f"{n}x order {o}, ->processing {e}, ->shipped {s}" for (o, e, s), n in outcomes.items()
        )
    )


SCENARIOS = (
    concurrent_starts,
    four_tabs,
    pay_racing_cancel,
    forged_webhooks,
    refused_flood,
    refund_before_shipping,
)


def _stop(process) -> None:
    if process is None or process.poll() is not None:
        return
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=8)
    parser.add_argument("--processes", type=int, default=4, help="gunicorn worker processes")
    parser.add_argument("--threads", type=int, default=4, help="threads per gunicorn process")
    parser.add_argument("--celery-concurrency", type=int, default=2)
    parser.add_argument(
        "--keep-db", action="store_true", help="leave the database behind for inspection"
    )
    args = parser.parse_args()

    logging.disable(logging.WARNING)
    if connection.vendor != "postgresql":
        print("benchmarks/payments_races.py needs PostgreSQL: set DATABASE_URL.", file=sys.stderr)
        return 2
    # A SIGTERM ends the run through the `finally` blocks: the children stop, the database goes.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))

    old_config = setup_databases(verbosity=0, interactive=False)
    server = worker = None
    try:
        call_command("roles_sync", verbosity=0, stdout=open(os.devnull, "w"))  # noqa: SIM115
        worker = _worker(args.celery_concurrency)
        _worker_ready()
        server, port = _gunicorn(processes=args.processes, threads=args.threads)
        BASE[0] = f"http://127.0.0.1:{port}"
        # Every gunicorn worker loads the application before the first race.
        _together(*[lambda s, _: _http(s, "GET", "/api/v1/shipping-methods/")] * args.threads * 4)
        print(
            f"payments races: {args.trials} trials per scenario, gunicorn {args.processes} "
            f"processes x {args.threads} threads, Celery worker (concurrency "
            f"{args.celery_concurrency}), PostgreSQL {connection.settings_dict['NAME']}, "
            f"Redis {os.environ['REDIS_URL']}"
        )
        violations = sum(scenario(args.trials) for scenario in SCENARIOS)
        discrepancies = inventory_selectors.stock_ledger_discrepancies()
        print(f"\nstock ledger discrepancies: {len(discrepancies)}")
        for discrepancy in discrepancies[:10]:
            print(f"  {discrepancy}")
        print(f"server errors (5xx): {len(SERVER_ERRORS)}")
        for error in SERVER_ERRORS[:10]:
            print(f"  {error}")
        violations += bool(discrepancies) + len(SERVER_ERRORS)
        print(f"violations: {violations}")
        return 1 if violations else 0
    finally:
        _stop(server)
        _stop(worker)
        connections.close_all()
        if args.keep_db:
            print(f"database kept: {connection.settings_dict['NAME']}", file=sys.stderr)
        else:
            teardown_databases(old_config, verbosity=0)


if __name__ == "__main__":
    sys.exit(main())
