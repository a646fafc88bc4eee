"""The admin's first page answers: how much did we sell, what is waiting, what runs out."""

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from inventory import services as inventory_services
from orders import services as orders_services
from tests.reports.factories import pay, place_order, staff_with, stocked_product

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_shipping(settings):
    settings.SHIPPING_FLAT_RATE = "0"


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def manager(db):
    return staff_with(
        "reports.view_reports",
        "orders.view_order",
        "payments.view_payment",
        "inventory.view_stockalert",
        "inventory.view_batch",
    )


@pytest.fixture
def shop(user):
    anvil = stocked_product(on_hand=6, price="30.00", name="Anvil", sku="ANV-1")
    for _ in range(2):
        order = place_order(user, {anvil: 1})
        assert pay(order).status_code == 201
    item = inventory_services.stock_item_for_product(product=anvil)
    inventory_services.stock_receive(
        stock_item=item,
        quantity=1,
        batch_number="B-1",
        expires_on=timezone.localdate() + timedelta(days=2),
    )
    inventory_services.stock_adjust(stock_item=item, delta=-2, reason="Dropped two.")
    inventory_services.stock_alerts_evaluate()
    return anvil


def test_dashboard_shows_sales_what_waits_and_charts(manager, shop):
    page = client_for(manager).get("/admin/")
    html = page.content.decode()

    assert page.status_code == 200
    assert "Sales (net of refunds" in html
    # Two paid orders of 30.00 today: sales 60.00, 2 orders, AOV 30.00, in every period.
    today_row = re.search(r"<th scope=\"row\">Today</th>(.*?)</tr>", html, re.S).group(1)
    assert "60.00" in today_row and "<strong>2</strong>" in today_row and "30.00" in today_row
    assert "Orders paid, not shipped" in html
    to_ship = 'href="/admin/orders/order/?status__in=paid%2Cprocessing"><span class="dash-count">2'
    assert to_ship in html
    assert "/admin/inventory/stockalert/?state__exact=open" in html
    assert "/admin/inventory/batch/?expires_on__gte=" in html
    assert html.count('class="chart-bar"') >= 30 + 1  # a bar per day, and the top product
    assert "<title>Anvil: 60.00" in html


def test_dashboard_has_no_inline_script_or_style(manager, shop):
    html = client_for(manager).get("/admin/").content.decode()
    dashboard = html[html.index('id="shop-dashboard"') :]
    assert "<script>" not in dashboard and " style=" not in dashboard
    assert not re.search(r"\son[a-z]+=", dashboard)


def test_dashboard_links_open_the_filtered_lists(manager, shop):
    client = client_for(manager)
    orders = client.get("/admin/orders/order/?status__in=paid%2Cprocessing")
    assert orders.status_code == 200 and "2 orders" in orders.content.decode()
    alerts = client.get("/admin/inventory/stockalert/?state__exact=open")
    assert alerts.status_code == 200


def test_sales_are_net_of_refunds_and_compared_with_the_period_before(
    manager, user, django_capture_on_commit_callbacks
):
    anvil = stocked_product(on_hand=5, price="40.00")
    order = place_order(user, {anvil: 1})
    pay(order)
    with django_capture_on_commit_callbacks(execute=True):  # the refund is queued on commit
        orders_services.order_transition(order=order, to_status="cancelled")  # refunds 40.00

    html = client_for(manager).get("/admin/").content.decode()
    today_row = re.search(r"<th scope=\"row\">Today</th>(.*?)</tr>", html, re.S).group(1)
    assert "<strong>0.00</strong>" in today_row


def test_staff_without_reports_right_see_only_their_counts(user, db):
    clerk = staff_with("orders.view_order")
    html = client_for(clerk).get("/admin/").content.decode()
    assert "Orders paid, not shipped" in html
    assert "Sales (net of refunds" not in html
    assert "Payments in fraud review" not in html


def test_reports_pages_show_figures_and_download_csv(manager, shop):
    client = client_for(manager)
    index = client.get("/admin/reports/report/")
    assert index.status_code == 200
    for name in ("orders", "payments", "inventory"):
        page = client.get(f"/admin/reports/report/{name}/", {"start": "2026-01-01"})
        assert page.status_code == 200
        assert "Download CSV" in page.content.decode()
        download = client.get(f"/admin/reports/report/{name}/csv/")
        assert download.status_code == 200 and download["Content-Type"].startswith("text/csv")
    bad = client.get("/admin/reports/report/orders/", {"start": "soon"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.content.decode()


def test_reports_pages_refuse_staff_without_the_right(db):
    client = client_for(staff_with("orders.view_order"))
    assert client.get("/admin/reports/report/orders/").status_code == 403
    assert client.get("/admin/reports/report/orders/csv/").status_code == 403
