"""The production shape: two instances behind nginx, two workers, one beat, shared state."""

import json
import threading
import uuid

import requests

from deploy.cluster import wait_for
from tests.cluster.shop import (
    CARD_PENDING,
    Shopper,
    check_stock,
    make_fixtures,
    sign,
    verification_token,
    wait_orders_whole,
)


def test_every_process_is_up_and_healthz_sees_the_workers_and_the_beat(cluster):
    assert all(cluster.processes().values()), cluster.processes()
    health = cluster.health()
    assert health["status"] == 200
    assert {
        k: health[k] for k in ("database", "cache", "broker", "workers", "beat")
    } == dict.fromkeys(("database", "cache", "broker", "workers", "beat"), "ok")
    assert health["workers_answering"] == 2


def test_the_proxy_spreads_requests_and_hides_metrics(cluster):
    served_by = {
        requests.get(cluster.url + "/api/v1/products/", timeout=10).headers["X-Served-By"]
        for _ in range(8)
    }
    assert served_by == {cluster.web_url(1)[7:], cluster.web_url(2)[7:]}
    assert requests.get(cluster.url + "/metrics", timeout=10).status_code == 404
    for index in (1, 2):  # scraped on each instance
        text = requests.get(cluster.web_url(index) + "/metrics", timeout=10).text
        assert "shop_orders_placed_total" in text and "shop_celery_queue_length" in text


def test_register_and_log_in_on_one_instance_then_be_served_by_the_other(cluster):
    address = f"new-{uuid.uuid4().hex[:8]}@cluster.example"
    registered = requests.post(
        cluster.web_url(1) + "/api/v1/auth/register/",
        json={"email": address, "password": "cluster-shopper-password-1"},
        timeout=30,
    )
    assert registered.status_code == 201, registered.text
    # The verification email is sent by a worker; the link's token verifies on the other web.
    token = wait_for(
        lambda: verification_token(cluster, address), timeout=30, what="verification email"
    )
    verified = requests.post(
        cluster.web_url(2) + "/api/v1/auth/verify-email/", json={"token": token}, timeout=30
    )
    assert verified.status_code == 200, verified.text
    shopper = Shopper(cluster, address).login(base=cluster.web_url(1))
    for base in (cluster.web_url(2), cluster.web_url(1), cluster.url):
        me = shopper.call("GET", "/api/v1/auth/me/", base=base)
        assert me.status_code == 200, me.text
        assert me.json()["email"] == address


def test_logout_on_one_instance_kills_the_token_on_the_other_at_once(cluster):
    _, (shopper,) = make_fixtures(cluster, shoppers=1, prefix="logout")
    shopper.login(base=cluster.web_url(1))
    assert shopper.call("GET", "/api/v1/auth/me/", base=cluster.web_url(2)).status_code == 200
    assert shopper.call("POST", "/api/v1/auth/logout/", base=cluster.web_url(1)).status_code == 204
    for base in (cluster.web_url(2), cluster.web_url(1)):
        refused = shopper.call("GET", "/api/v1/auth/me/", base=base)
        assert refused.status_code == 401, refused.text


def test_checkout_racing_on_both_instances_never_oversells(cluster):
    product, shoppers = make_fixtures(cluster, stock=6, shoppers=16, prefix="race")
    for shopper in shoppers:
        shopper.login()
        added = shopper.call(
            "POST", "/api/v1/cart/items/", json={"product": product, "quantity": 1}
        )
        assert added.status_code == 201, added.text
    barrier = threading.Barrier(len(shoppers))
    results: list[int] = []

    def run(index: int, shopper: Shopper):
        barrier.wait(timeout=60)
        response = shopper.call(
            "POST",
            "/api/v1/orders/",
            base=cluster.web_url(1 + index % 2),
            json={
                "shipping_address": {
                    "full_name": "Race",
                    "line1": "1 Way",
                    "city": "Town",
                    "postal_code": "12345",
                    "country": "US",
                }
            },
            headers={"Idempotency-Key": uuid.uuid4().hex},
        )
        results.append(response.status_code)
        if response.status_code == 409:
            assert response.json()["code"] == "insufficient_stock"

    threads = [threading.Thread(target=run, args=(i, s)) for i, s in enumerate(shoppers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert sorted(results) == [201] * 6 + [409] * 10
    with cluster.db() as conn:
        on_hand, reserved = conn.execute(
            "SELECT on_hand, reserved FROM inventory_stockitem WHERE product_id = %s", [product]
        ).fetchone()
    assert (on_hand, reserved) == (6, 6)
    check_stock(cluster)
    wait_orders_whole(cluster)


def test_payment_webhooks_spread_over_both_instances_apply_once(cluster):
    product, shoppers = make_fixtures(cluster, stock=10, shoppers=4, prefix="hooks")
    payments = []
    for shopper in shoppers:
        shopper.login()
        order = shopper.checkout(product)
        assert order.status_code == 201, order.text
        paid = shopper.pay(order.json()["number"], CARD_PENDING)
        assert paid.status_code == 201 and paid.json()["status"] == "pending", paid.text
        payments.append(paid.json()["id"])
    with cluster.db() as conn:
        rows = conn.execute(
            "SELECT id, gateway_reference, amount, currency FROM payments_payment"
            " WHERE id = ANY(%s)",
            [payments],
        ).fetchall()
    deliveries = []
    for _, reference, amount, currency in rows:
        body = json.dumps(
            {
                "id": f"evt_payment_succeeded_{reference}",
                "type": "payment.succeeded",
                "data": {"payment": reference, "amount": f"{amount:.2f}", "currency": currency},
            }
        ).encode()
        deliveries += [(body, 1), (body, 2), (body, 1)]  # redelivered, to both instances
    statuses = []

    def deliver(body, index):
        response = requests.post(
            cluster.web_url(index) + "/api/v1/payments/webhooks/dummy/",
            data=body,
            headers={"Content-Type": "application/json", "X-Signature": sign(body)},
            timeout=30,
        )
        statuses.append(response.status_code)

    threads = [threading.Thread(target=deliver, args=d) for d in deliveries]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert statuses == [200] * len(deliveries)

    def settled():
        with cluster.db() as conn:
            return conn.execute(
                "SELECT count(*) FROM payments_payment WHERE id = ANY(%s) AND status = 'succeeded'",
                [payments],
            ).fetchone()[0] == len(payments)

    wait_for(settled, timeout=60, what="payments settled by their webhooks")
    with cluster.db() as conn:
        per_event = conn.execute(
            "SELECT event_id, count(*), bool_and(processed_at IS NOT NULL)"
            " FROM payments_webhookevent WHERE event_id = ANY(%s) GROUP BY event_id",
            [[f"evt_payment_succeeded_{r[1]}" for r in rows]],
        ).fetchall()
        paid_events = conn.execute(
            "SELECT o.number, count(e.id) FROM orders_order o JOIN payments_payment p"
            " ON p.order_id = o.id LEFT JOIN orders_orderevent e ON e.order_id = o.id"
            " AND e.to_status = 'paid' WHERE p.id = ANY(%s) GROUP BY o.number",
            [payments],
        ).fetchall()
    assert sorted(count for _, count, _ in per_event) == [1] * len(payments)
    assert all(processed for _, _, processed in per_event)
    assert [count for _, count in paid_events] == [1] * len(payments)
    check_stock(cluster)
    wait_orders_whole(cluster)


def test_the_request_id_follows_the_request_into_the_tasks_it_queued(cluster):
    product, (shopper,) = make_fixtures(cluster, stock=3, shoppers=1, prefix="trace")
    shopper.login()
    order = shopper.checkout(product)
    assert order.status_code == 201, order.text
    request_id = order.headers["X-Request-ID"]
    assert len(request_id) == 32  # nginx's $request_id, kept because nginx is trusted

    def task_lines():
        lines = []
        for name in ("worker1", "worker2"):
            for raw in (cluster.logs / f"{name}.log").read_text().splitlines():
                if request_id in raw:
                    lines.append(json.loads(raw))
        return [line for line in lines if line.get("event") == "task_started"]

    started = wait_for(task_lines, timeout=30, what="a task logged with the request id")
    assert {line["task"] for line in started} >= {"orders.tasks.order_event_notify"}
    line = started[0]
    assert line["request_id"] == request_id
    assert line["session_id"] == str(shopper.session_id)
    web_lines = [
        json.loads(raw)
        for name in ("web1", "web2")
        for raw in (cluster.logs / f"{name}.log").read_text().splitlines()
        if request_id in raw and raw.startswith("{")
    ]
    finished = [line for line in web_lines if line.get("event") == "request_finished"]
    assert len(finished) == 1 and finished[0]["code"] == 201
    everything = "\n".join((cluster.logs / f"{n}.log").read_text() for n in ("web1", "web2"))
    assert shopper.access not in everything and shopper.refresh not in everything
