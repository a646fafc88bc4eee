"""A shop's traffic for Locust: logged-in shoppers browsing, filling carts, checking out, paying.

Mix (task weights): browse and search 70 %, cart 15 %, checkout 10 %, pay 5 %. Every shopper
logs in once and refreshes its access token before it expires (the refresh token rotates).
Run by `benchmarks/load_cluster.py` against the local cluster, or by hand:

    SHOP_USERS=users.json .venv/bin/locust -f benchmarks/locustfile.py --headless \\
        -u 40 -r 10 -t 60s --host http://127.0.0.1:8080

`SHOP_USERS` is a JSON list of verified shoppers' emails; `SHOP_PASSWORD` their password.
Expected refusals are successes here: 400 on adding a product that sold out (or more than
is available), 409 `insufficient_stock` on checkout (the scarce product sells out) and 409 on
paying an order that was paid or expired meanwhile.
"""

import itertools
import json
import os
import random
import threading
import time
import uuid
from datetime import datetime

from locust import HttpUser, between, events, task

ADDRESS = {
    "full_name": "Load Tester",
    "line1": "1 Benchmark Road",
    "line2": "",
    "city": "Loadville",
    "postal_code": "10101",
    "country": "US",
}
CARD_OK = "4242424242424242"
SEARCH_TERMS = ["item", "load", "shop", "blue", "a", "cl"]
REFRESH_MARGIN_SECONDS = 20

_users: list[str] = []
_next_user = itertools.count()
_lock = threading.Lock()


@events.init.add_listener
def _load_users(environment, **kwargs):
    path = os.environ.get("SHOP_USERS")
    if path:
        with open(path) as handle:
            _users.extend(json.load(handle))


def _stock_refusal(text: str) -> bool:
    """A 400 on the cart line's quantity because the stock is not there (not a bad request)."""
    return '"quantity"' in text and ("available" in text or "out of stock" in text)


def _expiry(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


class Shopper(HttpUser):
    wait_time = between(0.2, 0.8)

    def on_start(self):
        with _lock:
            self.email = _users[next(_next_user) % len(_users)]
        self.products: list[int] = []
        self.pending: list[str] = []
        self.cart_filled = False
        self.login()
        listed = self.client.get("/api/v1/products/?page_size=50", name="browse: list")
        if listed.status_code == 200:
            self.products = [p["id"] for p in listed.json()["results"] if p["available"] > 0]

    # -- authentication ----------------------------------------------------------------
    def login(self):
        response = self.client.post(
            "/api/v1/auth/login/",
            json={
                "email": self.email,
                "password": os.environ.get("SHOP_PASSWORD", "load-shopper-password-1"),
                "device_name": "locust",
            },
            name="auth: login",
        )
        self._keep(response)

    def _keep(self, response):
        if response.status_code != 200:
            self.access = ""
            return
        body = response.json()
        self.access, self.refresh = body["access"], body["refresh"]
        self.access_expires = _expiry(body["access_expires_at"])

    def headers(self, **extra):
        if self.access and time.time() > self.access_expires - REFRESH_MARGIN_SECONDS:
            refreshed = self.client.post(
                "/api/v1/auth/refresh/", json={"refresh": self.refresh}, name="auth: refresh"
            )
            self._keep(refreshed)
        if not self.access:
            self.login()
        return {"Authorization": f"Bearer {self.access}", **extra}

    # -- browse and search: 70 ----------------------------------------------------------
    @task(30)
    def browse_list(self):
        ordering = random.choice(["price", "-price", "name", "-created_at"])
        self.client.get(
            f"/api/v1/products/?ordering={ordering}&in_stock=true",
            headers=self.headers(),
            name="browse: list",
        )

    @task(25)
    def search(self):
        self.client.get(
            f"/api/v1/products/?search={random.choice(SEARCH_TERMS)}",
            headers=self.headers(),
            name="browse: search",
        )

    @task(15)
    def product(self):
        if self.products:
            listed = self.client.get(
                f"/api/v1/products/?page_size=5&ordering={random.choice(['price', '-price'])}",
                headers=self.headers(),
                name="browse: list",
            )
            if listed.status_code == 200 and listed.json()["results"]:
                slug = random.choice(listed.json()["results"])["slug"]
                self.client.get(
                    f"/api/v1/products/{slug}/", headers=self.headers(), name="browse: product"
                )

    # -- cart: 15 ---------------------------------------------------------------------
    @task(10)
    def cart_add(self):
        if not self.products:
            return
        product = random.choice(self.products)
        with self.client.post(
            "/api/v1/cart/items/",
            json={"product": product, "quantity": 1},
            headers=self.headers(),
            name="cart: add",
            catch_response=True,
        ) as response:
            if response.status_code in (200, 201):
                self.cart_filled = True
            elif response.status_code == 400 and _stock_refusal(response.text):
                # Sold out (or no more than the cart already holds): a correct refusal.
                if "out of stock" in response.text:
                    self.products.remove(product)
                response.success()

    @task(5)
    def cart_view(self):
        self.client.get("/api/v1/cart/", headers=self.headers(), name="cart: view")

    # -- checkout: 10 -----------------------------------------------------------------
    @task(10)
    def checkout(self):
        if not self.cart_filled:
            self.cart_add()
        with self.client.post(
            "/api/v1/orders/",
            json={"shipping_address": ADDRESS},
            headers=self.headers(**{"Idempotency-Key": uuid.uuid4().hex}),
            name="checkout",
            catch_response=True,
        ) as response:
            if response.status_code == 201:
                self.pending.append(response.json()["number"])
                self.cart_filled = False
                response.success()
            elif response.status_code == 409 and "insufficient_stock" in response.text:
                # Sold out: a correct answer. Empty the cart so the next checkout can work.
                for item in self.client.get(
                    "/api/v1/cart/", headers=self.headers(), name="cart: view"
                ).json()["items"]:
                    self.client.delete(
                        f"/api/v1/cart/items/{item['id']}/",
                        headers=self.headers(),
                        name="cart: remove",
                    )
                self.cart_filled = False
                response.success()
            elif response.status_code == 400 and "cart_empty" in response.text:
                response.success()

    # -- pay: 5 -----------------------------------------------------------------------
    @task(5)
    def pay(self):
        if not self.pending:
            return
        number = self.pending.pop(0)
        with self.client.post(
            f"/api/v1/orders/{number}/payments/",
            json={"gateway": "dummy", "card_number": CARD_OK},
            headers=self.headers(**{"Idempotency-Key": uuid.uuid4().hex}),
            name="pay",
            catch_response=True,
        ) as response:
            if response.status_code == 201 or (
                response.status_code == 409 and "invalid_transition" in response.text
            ):
                response.success()
