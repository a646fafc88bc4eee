"""Driving the cluster as its clients do (HTTP through nginx or one instance) and checking
its database directly afterwards."""

from __future__ import annotations

import contextlib
import email
import hashlib
import hmac
import json
import re
import time
import uuid
from email import policy

import requests

from deploy.cluster import WEBHOOK_SECRET, Cluster, wait_for

PASSWORD = "cluster-shopper-password-1"
ADDRESS = {
    "full_name": "Grace Hopper",
    "line1": "1 Cluster Way",
    "line2": "",
    "city": "Arlington",
    "postal_code": "22201",
    "country": "US",
}
CARD_OK = "4242424242424242"
CARD_PENDING = "4000000000003220"


class Shopper:
    """One logged-in API client; `base` picks nginx (default) or one instance."""

    def __init__(self, cluster: Cluster, email_address: str):
        self.cluster = cluster
        self.email = email_address
        self.http = requests.Session()
        self.access = ""
        self.refresh = ""
        self.session_id = ""

    def call(self, method: str, path: str, *, base: str | None = None, **kwargs):
        headers = kwargs.pop("headers", {})
        if self.access:
            headers.setdefault("Authorization", f"Bearer {self.access}")
        return self.http.request(
            method, (base or self.cluster.url) + path, headers=headers, timeout=30, **kwargs
        )

    def login(self, *, base: str | None = None) -> Shopper:
        response = self.http.post(
            (base or self.cluster.url) + "/api/v1/auth/login/",
            json={"email": self.email, "password": PASSWORD, "device_name": "cluster test"},
            timeout=30,
        )
        assert response.status_code == 200, response.text
        body = response.json()
        self.access, self.refresh, self.session_id = (
            body["access"],
            body["refresh"],
            body["session_id"],
        )
        return self

    def checkout(self, product_id: int, quantity: int = 1, *, base: str | None = None):
        added = self.call(
            "POST", "/api/v1/cart/items/", json={"product": product_id, "quantity": quantity}
        )
        assert added.status_code in (200, 201), added.text
        return self.call(
            "POST",
            "/api/v1/orders/",
            base=base,
            json={"shipping_address": ADDRESS},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )

    def pay(self, number: str, card: str = CARD_OK, *, base: str | None = None):
        return self.call(
            "POST",
            f"/api/v1/orders/{number}/payments/",
            base=base,
            json={"gateway": "dummy", "card_number": card},
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )


def make_fixtures(
    cluster: Cluster,
    *,
    stock: int | None = None,
    shoppers: int = 0,
    prefix: str = "s",
    price: str = "9.50",
) -> tuple[int | None, list[Shopper]]:
    """A product with `stock` units (received through the inventory service) and verified
    shoppers, made in one `manage.py shell` (registration itself is tested on its own)."""
    emails = [f"{prefix}-{i}-{uuid.uuid4().hex[:6]}@cluster.example" for i in range(shoppers)]
    sku = f"CL-{uuid.uuid4().hex[:10]}"
    code = (
        "from decimal import Decimal\n"
        "from accounts.models import User\n"
        "from catalog.models import Product\n"
        "from inventory import services\n"
        f"for e in {emails!r}:\n"
        f"    User.objects.create_user(email=e, password={PASSWORD!r}, email_verified=True)\n"
        f"if {stock is not None!r}:\n"
        f"    p = Product.objects.create(sku={sku!r}, slug={sku.lower()!r},"
        f" name='Cluster item', price=Decimal({price!r}), active=True)\n"
        "    services.stock_receive(stock_item=services.stock_item_for_product(product=p),"
        f" quantity={stock or 0})\n"
        "    print(p.pk)\n"
    )
    out = cluster.manage("shell", "-c", code).stdout.strip().splitlines()
    product = int(out[-1]) if stock is not None else None
    return product, [Shopper(cluster, e) for e in emails]


def sign(body: bytes, secret: str = WEBHOOK_SECRET) -> str:
    t = int(time.time())
    digest = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={digest}"


def emails(cluster: Cluster) -> list[email.message.EmailMessage]:
    """Every email the cluster sent (the file backend: one file per connection)."""
    messages = []
    for path in sorted(cluster.mail_dir.glob("*.log")):
        for chunk in path.read_bytes().split(b"-" * 79 + b"\n"):
            if chunk.strip():
                messages.append(email.message_from_bytes(chunk, policy=policy.default))
    return messages


def verification_token(cluster: Cluster, address: str) -> str:
    for message in emails(cluster):
        if message["To"] == address:
            body = message.get_body(("plain",)).get_content()
            found = re.search(r"/account/verify/([^/\s]+)/", body)
            if found:
                return found.group(1)
    return ""


def check_stock(cluster: Cluster) -> None:
    """The ledger check (`manage.py check_stock`) is clean."""
    result = cluster.manage("check_stock", check=False)
    assert result.returncode == 0, result.stdout + result.stderr


NOTIFIED = ("pending_payment", "shipped", "delivered", "cancelled", "expired")


def order_problems(cluster: Cluster) -> list[str]:
    """Orders whose history or emails are incomplete: empty when every order is whole."""
    with cluster.db() as conn:
        orders = conn.execute("SELECT id, number, status FROM orders_order ORDER BY id").fetchall()
        events = conn.execute(
            "SELECT order_id, from_status, to_status, notified_at IS NOT NULL"
            " FROM orders_orderevent ORDER BY at, id"
        ).fetchall()
    by_order: dict[int, list] = {}
    for order_id, from_status, to_status, notified in events:
        by_order.setdefault(order_id, []).append((from_status, to_status, notified))
    subjects: dict[str, int] = {}
    for message in emails(cluster):
        subject = str(message["Subject"])
        if "payment" in subject or "refunded" in subject:
            continue  # payments' own emails (one per payment outcome), not order steps
        subjects[subject] = subjects.get(subject, 0) + 1
    problems = []
    for order_id, number, status in orders:
        history = by_order.get(order_id, [])
        if not history or history[0][:2] != ("", "pending_payment"):
            problems.append(f"{number}: no placement event")
            continue
        previous = "pending_payment"
        for from_status, to_status, _ in history[1:]:
            if from_status != previous:
                problems.append(f"{number}: event {from_status}->{to_status} after {previous}")
            previous = to_status
        if previous != status:
            problems.append(f"{number}: status {status} but last event {previous}")
        for _, to_status, notified in history:
            if to_status in NOTIFIED and not notified:
                problems.append(f"{number}: {to_status} not emailed")
        mails = sum(count for subject, count in subjects.items() if number in subject)
        expected = sum(1 for _, to_status, _ in history if to_status in NOTIFIED)
        if mails != expected:
            problems.append(f"{number}: {mails} emails for {expected} notified events")
    return problems


def wait_orders_whole(cluster: Cluster, timeout: float = 60) -> None:
    """Every order gets its events and emails (tasks are asynchronous): wait, then assert."""
    with contextlib.suppress(TimeoutError):
        wait_for(lambda: not order_problems(cluster), timeout=timeout, what="orders", interval=1)
    problems = order_problems(cluster)
    assert problems == [], problems


def post_json(url: str, body: dict, **headers) -> requests.Response:
    return requests.post(url, data=json.dumps(body), headers=headers, timeout=30)
