"""GET /api/v1/reports/{orders,payments,inventory}/ and their CSV downloads."""

import csv
import io
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from inventory import services as inventory_services
from orders import services as orders_services
from tests.helpers import error_code
from tests.reports.factories import (
    CARD_DECLINED,
    pay,
    place_order,
    staff_with,
    stocked_product,
)

pytestmark = pytest.mark.django_db

REPORTS = ("orders", "payments", "inventory")


@pytest.fixture(autouse=True)
def _no_shipping(settings):
    settings.SHIPPING_FLAT_RATE = "0"


@pytest.fixture
def viewer(db):
    client = APIClient()
    client.force_authenticate(staff_with("reports.view_reports"))
    return client


@pytest.fixture
def shop(user, other_user, django_capture_on_commit_callbacks):
    """Four orders: one paid, one paid then cancelled (refunded), one declined, one cancelled."""
    a = stocked_product(on_hand=50, price="10.00", name="Anvil", sku="ANV-1")
    b = stocked_product(on_hand=4, price="25.00", name="Bellows", sku="BEL-1")
    c = stocked_product(on_hand=0, price="7.00", name="Chisel", sku="CHI-1")
    inventory_services.stock_threshold_set(
        stock_item=inventory_services.stock_item_for_product(product=b), low_stock_threshold=5
    )
    paid = place_order(user, {a: 2})
    assert pay(paid).status_code == 201
    refunded = place_order(other_user, {b: 1})
    assert pay(refunded).status_code == 201
    with django_capture_on_commit_callbacks(execute=True):  # the refund is queued on commit
        orders_services.order_transition(order=refunded, to_status="cancelled")
    declined = place_order(user, {a: 1})
    assert pay(declined, CARD_DECLINED).status_code in (201, 402)
    unpaid = place_order(other_user, {a: 1})
    orders_services.order_cancel_unpaid(order=unpaid, actor=None)
    return {"a": a, "b": b, "c": c}


@pytest.fixture
def other_user(db):
    from tests.factories import UserFactory

    return UserFactory()


def test_order_report_counts_sales_rates_and_top_sellers(viewer, shop):
    body = viewer.get("/api/v1/reports/orders/").json()

    today = timezone.localdate()
    assert body["end"] == today.isoformat()
    assert body["start"] == (today - timedelta(days=29)).isoformat()
    summary = body["summary"]
    assert summary["orders_placed"] == 4
    assert summary["orders_paid"] == 1
    assert Decimal(summary["sales"]) == Decimal("20.00")
    assert Decimal(summary["average_order_value"]) == Decimal("20.00")
    assert Decimal(summary["cancellation_rate"]) == Decimal("50.0")
    assert Decimal(summary["expiry_rate"]) == Decimal("0.0")
    assert [(r["sku"], r["units"], Decimal(r["revenue"])) for r in body["top_products"]] == [
        ("ANV-1", 2, Decimal("20.00"))
    ]
    assert body["top_categories"][0]["units"] == 2
    statuses = {(r["status"], r["orders"]) for r in body["per_day"]}
    assert statuses == {("paid", 1), ("cancelled", 2), ("pending_payment", 1)}


def test_sales_of_a_product_deleted_since_stay_in_the_order_report(viewer, shop):
    from orders.models import OrderLine

    # What deleting the product leaves (on_delete=SET_NULL): the lines keep SKU and name.
    OrderLine.objects.filter(order__status="paid").update(product=None)

    body = viewer.get("/api/v1/reports/orders/").json()

    assert Decimal(body["summary"]["sales"]) == Decimal("20.00")
    assert [(r["sku"], r["name"], r["units"]) for r in body["top_products"]] == [
        ("", "(products since deleted)", 2)
    ]
    assert [(r["category"], r["units"]) for r in body["top_categories"]] == [("(none)", 2)]


def test_payment_report_shows_captured_refunded_declined_per_gateway(viewer, shop):
    body = viewer.get("/api/v1/reports/payments/").json()

    summary = body["summary"]
    assert summary["attempts"] == 3
    assert summary["captured"] == 2
    assert Decimal(summary["captured_amount"]) == Decimal("45.00")
    assert Decimal(summary["refunded_amount"]) == Decimal("25.00")
    assert Decimal(summary["net_amount"]) == Decimal("20.00")
    assert summary["declined"] == 1
    assert Decimal(summary["decline_rate"]) == Decimal("33.3")
    (dummy,) = body["per_gateway"]
    assert (dummy["gateway"], dummy["captured"], dummy["declined"]) == ("dummy", 2, 1)
    assert [(r["status"], r["refunds"]) for r in body["refunds"]] == [("succeeded", 1)]


def test_inventory_report_values_stock_and_lists_what_runs_out(viewer, shop):
    body = viewer.get("/api/v1/reports/inventory/").json()

    summary = body["summary"]
    # Anvil 50 - 2 sold (one order's reservation released), Bellows back to 4, Chisel 0.
    assert summary["on_hand"] == 48 + 4
    assert Decimal(summary["stock_value"]) == Decimal("580.00")
    assert (summary["low_stock"], summary["out_of_stock"]) == (1, 1)
    assert [(r["sku"], r["state"]) for r in body["short"]] == [
        ("CHI-1", "out of stock"),
        ("BEL-1", "low"),
    ]
    kinds = {r["kind"]: r["movements"] for r in body["movements"]}
    assert kinds["commit"] == 2 and kinds["receipt"] == 2
    turnover = {r["sku"]: r for r in body["turnover"]}
    # 0 on hand when the range began (everything was received in it), 48 now: 2 / 24.
    anvil = turnover["ANV-1"]
    assert (anvil["units_sold"], anvil["average_on_hand"], anvil["turnover"]) == (2, "24.0", "0.08")


def test_inventory_report_lists_batches_expiring_within_the_days_asked(viewer, db):
    product = stocked_product(on_hand=0, sku="MLK-1")
    item = inventory_services.stock_item_for_product(product=product)
    today = timezone.localdate()
    inventory_services.stock_receive(
        stock_item=item, quantity=5, batch_number="B-SOON", expires_on=today + timedelta(days=3)
    )
    inventory_services.stock_receive(
        stock_item=item, quantity=5, batch_number="B-LATE", expires_on=today + timedelta(days=40)
    )

    soon = viewer.get("/api/v1/reports/inventory/", {"expiring_days": 7}).json()
    later = viewer.get("/api/v1/reports/inventory/", {"expiring_days": 60}).json()

    assert [b["number"] for b in soon["expiring_batches"]] == ["B-SOON"]
    assert [b["number"] for b in later["expiring_batches"]] == ["B-SOON", "B-LATE"]


def test_date_range_limits_what_is_counted(viewer, shop):
    yesterday = timezone.localdate() - timedelta(days=1)
    body = viewer.get(
        "/api/v1/reports/orders/", {"start": "2020-01-01", "end": "2020-01-31"}
    ).json()
    assert body["summary"]["orders_placed"] == 0
    body = viewer.get("/api/v1/reports/orders/", {"end": yesterday.isoformat()}).json()
    assert body["summary"]["orders_placed"] == 0


@pytest.mark.parametrize("report", REPORTS)
@pytest.mark.parametrize(
    "params",
    [
        {"start": "yesterday"},
        {"start": "2026-02-30"},
        {"start": "2026-03-02", "end": "2026-03-01"},
        {"start": "2020-01-01", "end": "2026-01-01"},
        {"start": "9999-12-31", "end": "9999-12-31"},
        {"start": "0001-01-01", "end": "0001-01-01"},
    ],
)
def test_bad_date_range_is_a_400_with_a_code(viewer, report, params):
    response = viewer.get(f"/api/v1/reports/{report}/", params)
    assert response.status_code == 400
    assert error_code(response) == "invalid_date_range"


def test_bad_expiring_days_is_a_400(viewer):
    response = viewer.get("/api/v1/reports/inventory/", {"expiring_days": "-1"})
    assert (response.status_code, error_code(response)) == (400, "invalid_date_range")


@pytest.mark.parametrize("report", REPORTS)
def test_reports_need_the_view_reports_permission(report, db, user):
    anonymous = APIClient().get(f"/api/v1/reports/{report}/")
    assert anonymous.status_code == 401
    shopper = APIClient()
    shopper.force_authenticate(user)
    assert shopper.get(f"/api/v1/reports/{report}/").status_code == 403
    staff = APIClient()
    staff.force_authenticate(staff_with("orders.view_order", "payments.view_payment"))
    for url in (f"/api/v1/reports/{report}/", f"/api/v1/reports/{report}/csv/"):
        response = staff.get(url)
        assert (response.status_code, error_code(response)) == (403, "permission_denied")


def _csv(response) -> list[list[str]]:
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment;" in response["Content-Disposition"]
    return list(csv.reader(io.StringIO(response.content.decode())))


def test_orders_csv_holds_the_same_figures(viewer, shop):
    rows = _csv(viewer.get("/api/v1/reports/orders/csv/"))
    assert rows[0][0] == "Orders"
    assert ["Orders placed", "4"] in rows
    assert ["Sales (paid orders)", "20.00"] in rows
    header = rows.index(["SKU", "Product", "Units", "Lines", "Revenue"])
    assert rows[header + 1] == ["ANV-1", "Anvil", "2", "1", "20.00"]


def test_payments_csv_holds_the_same_figures(viewer, shop):
    rows = _csv(viewer.get("/api/v1/reports/payments/csv/"))
    assert ["Money captured", "45.00"] in rows
    assert ["Decline rate (%)", "33.3"] in rows
    header = rows.index(
        [
            "Gateway",
            "Attempts",
            "Captured",
            "Captured amount",
            "Refunded amount",
            "Declined",
            "Decline rate (%)",
            "In review",
        ]
    )
    assert rows[header + 1] == ["dummy", "3", "2", "45.00", "25.00", "1", "33.3", "0"]


def test_inventory_csv_holds_the_same_figures(viewer, shop):
    rows = _csv(viewer.get("/api/v1/reports/inventory/csv/", {"start": "2026-01-01"}))
    assert ["Stock value at current prices", "580.00"] in rows
    header = rows.index(
        ["SKU", "Product", "On hand", "Reserved", "Available", "Threshold", "State"]
    )
    assert rows[header + 1] == ["CHI-1", "Chisel", "0", "0", "0", "5", "out of stock"]


def test_csv_cells_cannot_run_as_spreadsheet_formulas(viewer, db):
    stocked_product(on_hand=0, name="=HYPERLINK(1)", sku="EVIL-1")
    rows = _csv(viewer.get("/api/v1/reports/inventory/csv/"))
    assert ["EVIL-1", "'=HYPERLINK(1)", "0", "0", "0", "5", "out of stock"] in rows


# Queries: the permission check (user and group permissions), then the report's own.
REPORT_QUERIES = {"orders": 2 + 2, "payments": 2 + 4, "inventory": 2 + 5}


@pytest.mark.parametrize("report", REPORTS)
def test_report_query_count_does_not_grow_with_data(report, shop, user, django_assert_num_queries):
    for _ in range(3):
        order = place_order(user, {shop["a"]: 1})
        pay(order)
    for suffix in ("", "csv/"):
        client = APIClient()
        client.force_authenticate(staff_with("reports.view_reports"))
        with django_assert_num_queries(REPORT_QUERIES[report]):
            response = client.get(f"/api/v1/reports/{report}/{suffix}")
        assert response.status_code == 200
