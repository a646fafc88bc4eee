"""/metrics: off unless enabled; the shop's counters move with what happens, once."""

import pytest
from prometheus_client import REGISTRY

from inventory import services as inventory_services
from inventory.models import StockAlert
from tests.payments.factories import (
    CARD_DECLINED,
    CARD_OK,
    CARD_PENDING,
    WEBHOOK_URL,
    event_body,
    place_order,
    sign,
    stocked_product,
)

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _setup(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    settings.FRAUD_NEW_ACCOUNT_HOURS = 0
    settings.METRICS_ENABLED = True


def value(name, **labels) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def _pay(client, order, card):
    import uuid

    return client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": card},
        format="json",
        HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
    )


def test_metrics_answer_404_unless_enabled(client, settings):
    settings.METRICS_ENABLED = False
    assert client.get("/metrics").status_code == 404


def test_metrics_expose_the_shop_counters_and_queue_length(client):
    response = client.get("/metrics")
    assert response.status_code == 200
    text = response.content.decode()
    for name in (
        "shop_orders_placed_total",
        "shop_payments_total",
        "shop_webhooks_total",
        "shop_stock_alerts_opened_total",
        "shop_celery_queue_length",
        "shop_outbox_pending",
    ):
        assert f"# TYPE {name.removesuffix('_total')}" in text


def test_orders_and_payments_are_counted_by_outcome(user_client):
    product = stocked_product(on_hand=20, price="5.00")
    placed = value("shop_orders_placed_total")
    succeeded = value("shop_payments_total", outcome="succeeded")
    failed = value("shop_payments_total", outcome="failed")
    first = place_order(user_client.user, {product: 1})
    second = place_order(user_client.user, {product: 1})
    assert value("shop_orders_placed_total") == placed + 2
    assert _pay(user_client, first, CARD_OK).status_code == 201
    assert _pay(user_client, second, CARD_DECLINED).status_code in (201, 402)
    assert value("shop_payments_total", outcome="succeeded") == succeeded + 1
    assert value("shop_payments_total", outcome="failed") == failed + 1


def test_webhooks_received_refused_processed(user_client, client, settings):
    secret = settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]
    product = stocked_product(on_hand=5, price="5.00")
    order = place_order(user_client.user, {product: 1})
    response = _pay(user_client, order, CARD_PENDING)
    assert response.status_code == 201
    from payments.models import Payment

    payment = Payment.objects.get(pk=response.json()["id"])
    before = {
        result: value("shop_webhooks_total", gateway="dummy", result=result)
        for result in ("received", "refused", "processed")
    }
    body = event_body("payment.succeeded", payment, "evt_metrics_1")
    for _ in range(2):  # the same event twice: received twice, processed once
        ok = client.generic(
            "POST",
            WEBHOOK_URL,
            body,
            content_type="application/json",
            HTTP_X_SIGNATURE=sign(body, secret),
        )
        assert ok.status_code == 200
    from payments import services as payment_services

    payment_services.webhooks_drain()  # what the worker runs after the deliveries commit
    bad = client.generic(
        "POST", WEBHOOK_URL, body, content_type="application/json", HTTP_X_SIGNATURE="t=1,v1=00"
    )
    assert bad.status_code == 400
    after = {
        result: value("shop_webhooks_total", gateway="dummy", result=result)
        for result in ("received", "refused", "processed")
    }
    assert after["processed"] == before["processed"] + 1
    assert after["refused"] == before["refused"] + 1
    return before, after


@pytest.mark.xfail(
    strict=True,
    reason=(
        "payments' rewrite stores accepted deliveries with raw SQL (_inbox_insert, INSERT ... "
        "ON CONFLICT), which sends no post_save: counting them needs a signal from payments"
    ),
)
def test_webhooks_received_are_counted(user_client, client, settings):
    before, after = test_webhooks_received_refused_processed(user_client, client, settings)
    assert after["received"] >= before["received"] + 1


def test_stock_alerts_opened_are_counted_by_kind():
    product = stocked_product(on_hand=1, price="5.00")
    item = inventory_services.stock_item_for_product(product=product)
    before = value("shop_stock_alerts_opened_total", kind="out_of_stock")
    inventory_services.stock_adjust(stock_item=item, delta=-1, reason="damaged")
    inventory_services.stock_alerts_evaluate(stock_item_ids=[item.pk])
    opened = StockAlert.objects.filter(stock_item=item, kind="out_of_stock").count()
    assert opened == 1
    assert value("shop_stock_alerts_opened_total", kind="out_of_stock") == before + 1
