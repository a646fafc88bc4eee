"""A SPA served from another origin logs in and checks out through the API (CORS)."""

import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inventory import services as inventory_services
from tests.factories import DEFAULT_PASSWORD, CategoryFactory, ProductFactory, UserFactory

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SPA_PAGE = b"<!doctype html><html lang='en'><title>SPA</title><main>SPA</main></html>"

# What a SPA does: log in, add to the cart, check out, pay; every call a cross-origin fetch
# with a JSON body, a Bearer token and (for checkout and payment) an Idempotency-Key.
JOURNEY = """async ({api, email, password}) => {
  const call = async (method, path, body, token, key) => {
    const headers = {"Content-Type": "application/json"};
    if (token) headers["Authorization"] = `Bearer ${token}`;
    if (key) headers["Idempotency-Key"] = key;
    const response = await fetch(api + path, {method, headers, body: JSON.stringify(body)});
    return {status: response.status, body: await response.json()};
  };
  const login = await call("POST", "/api/v1/auth/login/", {email, password});
  const token = login.body.access;
  const products = await fetch(api + "/api/v1/products/?in_stock=true").then((r) => r.json());
  await call("POST", "/api/v1/cart/items/", {product: products.results[0].id, quantity: 1}, token);
  const address = {full_name: "Ada", line1: "1 Road", city: "London", postal_code: "N1 1AA",
                   country: "GB"};
  const order = await call("POST", "/api/v1/orders/", {shipping_address: address}, token,
                           crypto.randomUUID());
  const payment = await call("POST", `/api/v1/orders/${order.body.number}/payments/`,
                             {gateway: "dummy", card_number: "4242424242424242"}, token,
                             crypto.randomUUID());
  const wrong = await call("POST", "/api/v1/auth/login/", {email, password: "nope"});
  return {login: login.status, order: order.status, payment: payment.body.status,
          wrong: [wrong.status, wrong.body.code]};
}"""

BLOCKED = """async ({api}) => {
  try { await fetch(api + "/api/v1/products/"); return "read"; }
  catch (error) { return "blocked"; }
}"""


class _Quiet(SimpleHTTPRequestHandler):
    def do_GET(self):
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.end_headers()
        self.wfile.write(SPA_PAGE)

    def log_message(self, *args):
        pass


@pytest.fixture
def spa_origin():
    """Serve a page on another port of localhost: another origin than the live server."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(_Quiet))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def shopper():
    product = ProductFactory(category=CategoryFactory(slug="tea"), price="8.00")
    stock_item = inventory_services.stock_item_for_product(product=product)
    inventory_services.stock_receive(stock_item=stock_item, quantity=5)
    return UserFactory(email="spa@example.com")


def test_a_spa_on_a_configured_origin_logs_in_and_checks_out(
    page, live_server, spa_origin, shopper, settings
):
    settings.CORS_ALLOWED_ORIGINS = [spa_origin]
    page.goto(spa_origin)
    outcome = page.evaluate(
        JOURNEY, {"api": live_server.url, "email": shopper.email, "password": DEFAULT_PASSWORD}
    )
    assert outcome == {
        "login": 200,
        "order": 201,
        "payment": "succeeded",
        "wrong": [401, "invalid_credentials"],
    }


def test_a_spa_on_another_origin_is_refused_by_the_browser(page, live_server, spa_origin, settings):
    settings.CORS_ALLOWED_ORIGINS = ["https://app.example.com"]
    page.goto(spa_origin)
    assert page.evaluate(BLOCKED, {"api": live_server.url}) == "blocked"
