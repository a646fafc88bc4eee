"""Staff inventory API: levels, receive, adjust, the ledger and alerts; nobody else gets in."""

from datetime import timedelta

import pytest
from django.utils import timezone

from inventory import services
from inventory.models import Batch, StockAlert, StockMovement
from tests.helpers import error_code, field_errors
from tests.inventory.factories import StockItemFactory

pytestmark = pytest.mark.django_db

STOCK = "/api/v1/inventory/stock/"
MOVEMENTS = "/api/v1/inventory/movements/"
ALERTS = "/api/v1/inventory/alerts/"


def _soon():
    return timezone.now() + timedelta(minutes=15)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", STOCK),
        ("get", STOCK + "{id}/"),
        ("post", STOCK + "{id}/receive/"),
        ("post", STOCK + "{id}/adjust/"),
        ("get", MOVEMENTS),
        ("get", ALERTS),
        ("post", ALERTS + "{alert}/acknowledge/"),
    ],
)
def test_shoppers_get_403_and_anonymous_callers_401(api_client, user_client, stocked, method, path):
    item = stocked(on_hand=1, low_stock_threshold=5)
    alert = StockAlert.objects.create(stock_item=item, kind="low_stock")
    url = path.format(id=item.pk, alert=alert.pk)
    body = {"quantity": 1, "delta": 1, "reason": "x"}
    assert getattr(user_client, method)(url, body).status_code == 403
    assert getattr(api_client, method)(url, body).status_code == 401
    item.refresh_from_db()
    assert item.on_hand == 1
    assert StockAlert.objects.get().state == "open"


def test_stock_list_shows_levels_and_filters_low_items(staff_client, stocked):
    low = stocked(on_hand=3, low_stock_threshold=5)
    plenty = stocked(on_hand=20, low_stock_threshold=5)
    services.stock_reserve(lines={plenty.product_id: 4}, reference="O-1", expires_at=_soon())

    response = staff_client.get(STOCK)
    assert response.status_code == 200
    rows = {row["id"]: row for row in response.json()["results"]}
    assert rows[plenty.pk] == {
        "id": plenty.pk,
        "product": plenty.product_id,
        "sku": plenty.product.sku,
        "name": plenty.product.name,
        "on_hand": 20,
        "reserved": 4,
        "available": 16,
        "low_stock_threshold": 5,
    }
    low_ids = [row["id"] for row in staff_client.get(STOCK, {"low": "true"}).json()["results"]]
    assert low_ids == [low.pk]


def test_receive_adds_units_and_a_batch(staff_client, stocked):
    item = stocked(on_hand=2)
    expiry = (timezone.localdate() + timedelta(days=60)).isoformat()
    response = staff_client.post(
        f"{STOCK}{item.pk}/receive/",
        {"quantity": 5, "batch_number": "LOT-9", "expires_on": expiry},
    )
    assert response.status_code == 200
    assert (response.json()["on_hand"], response.json()["available"]) == (7, 7)
    assert Batch.objects.get(stock_item=item).expires_on.isoformat() == expiry
    receipt = StockMovement.objects.filter(kind="receipt").first()
    assert receipt.actor == staff_client.user


@pytest.mark.parametrize(
    "body",
    [
        {"quantity": 0},
        {"quantity": -4},
        {"quantity": "many"},
        {},
        {"quantity": 2, "expires_on": "2030-01-01"},
        {"quantity": 10**12},
    ],
)
def test_receive_refuses_bad_quantities_and_writes_nothing(staff_client, stocked, body):
    item = stocked(on_hand=2)
    response = staff_client.post(f"{STOCK}{item.pk}/receive/", body)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    item.refresh_from_db()
    assert item.on_hand == 2
    assert StockMovement.objects.count() == 1


def test_unknown_stock_item_is_404(staff_client, db):
    response = staff_client.post(f"{STOCK}999999/receive/", {"quantity": 1})
    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    assert not StockMovement.objects.exists()


def test_adjust_changes_on_hand_and_logs_the_reason(staff_client, stocked):
    item = stocked(on_hand=10)
    response = staff_client.post(f"{STOCK}{item.pk}/adjust/", {"delta": -4, "reason": "stocktake"})
    assert response.status_code == 200
    assert response.json()["on_hand"] == 6
    assert StockMovement.objects.get(kind="adjustment").note == "stocktake"


def test_adjust_below_reserved_is_409_and_writes_nothing(staff_client, stocked):
    item = stocked(on_hand=5)
    services.stock_reserve(lines={item.product_id: 4}, reference="O-2", expires_at=_soon())
    response = staff_client.post(f"{STOCK}{item.pk}/adjust/", {"delta": -3, "reason": "lost"})
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "insufficient_stock"
    assert body["lines"] == [{"product": item.product_id, "requested": 3, "available": 1}]
    item.refresh_from_db()
    assert (item.on_hand, item.reserved) == (5, 4)
    assert not StockMovement.objects.filter(kind="adjustment").exists()


@pytest.mark.parametrize("body", [{"delta": 0, "reason": "x"}, {"delta": 3}, {"reason": "x"}])
def test_adjust_needs_a_non_zero_delta_and_a_reason(staff_client, stocked, body):
    item = stocked(on_hand=5)
    response = staff_client.post(f"{STOCK}{item.pk}/adjust/", body)
    assert response.status_code == 400
    assert not StockMovement.objects.filter(kind="adjustment").exists()


def test_movements_list_the_ledger_newest_first_and_filter_by_product(staff_client, stocked):
    a, b = stocked(on_hand=3), stocked(on_hand=4)
    services.stock_adjust(stock_item=a, delta=-1, reason="dropped", actor=staff_client.user)

    rows = staff_client.get(MOVEMENTS).json()["results"]
    assert [(r["kind"], r["delta_on_hand"]) for r in rows] == [
        ("adjustment", -1),
        ("receipt", 4),
        ("receipt", 3),
    ]
    assert rows[0]["actor"] == staff_client.user.email
    assert set(rows[0]) >= {
        "stock_item",
        "kind",
        "delta_on_hand",
        "delta_reserved",
        "reference",
        "actor",
        "created_at",
    }
    only_b = staff_client.get(MOVEMENTS, {"product": b.product_id}).json()["results"]
    assert [(r["stock_item"], r["kind"]) for r in only_b] == [(b.pk, "receipt")]
    assert staff_client.get(MOVEMENTS, {"product": "abc"}).status_code == 400


def test_alerts_list_filters_by_state_and_acknowledge_marks_seen(staff_client, stocked):
    item = stocked(on_hand=0)
    services.stock_alerts_evaluate()
    open_alerts = staff_client.get(ALERTS, {"state": "open"}).json()["results"]
    assert {a["kind"] for a in open_alerts} == {"low_stock", "out_of_stock"}
    assert all(a["product"] == item.product_id for a in open_alerts)

    alert_id = open_alerts[0]["id"]
    response = staff_client.post(f"{ALERTS}{alert_id}/acknowledge/")
    assert response.status_code == 200
    assert response.json()["state"] == "acknowledged"
    assert staff_client.post(f"{ALERTS}{alert_id}/acknowledge/").status_code == 200
    assert len(staff_client.get(ALERTS, {"state": "open"}).json()["results"]) == 1
    assert staff_client.get(ALERTS, {"state": "bogus"}).status_code == 400
    assert staff_client.post(f"{ALERTS}999999/acknowledge/").status_code == 404


@pytest.mark.parametrize("size", [2, 12])
def test_list_endpoints_use_a_fixed_number_of_queries(
    staff_client, django_assert_num_queries, size
):
    for _ in range(size):
        item = StockItemFactory()
        services.stock_receive(stock_item=item, quantity=1, actor=staff_client.user)
        services.stock_adjust(stock_item=item, delta=1, reason="found", actor=staff_client.user)
    services.stock_alerts_evaluate()
    # Count + page for each list.
    with django_assert_num_queries(2):
        assert len(staff_client.get(STOCK).json()["results"]) == size
    with django_assert_num_queries(2):
        assert len(staff_client.get(MOVEMENTS).json()["results"]) == min(2 * size, 20)
    with django_assert_num_queries(2):
        assert len(staff_client.get(ALERTS).json()["results"]) == size  # low_stock only: 2 left


@pytest.mark.parametrize("url", [f"{MOVEMENTS}?product=abc", f"{ALERTS}?state=lost"])
def test_bad_list_filters_are_field_errors(staff_client, url):
    response = staff_client.get(url)
    assert (response.status_code, error_code(response)) == (400, "invalid")
    assert set(field_errors(response)) == {url.split("?")[1].split("=")[0]}


def test_a_yes_no_filter_takes_any_value(staff_client, stocked):
    stocked(on_hand=3, low_stock_threshold=5)
    response = staff_client.get(STOCK, {"low": "maybe"})
    assert response.status_code == 200 and response.json()["count"] == 1
