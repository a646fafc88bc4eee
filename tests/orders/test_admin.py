"""Staff work with orders in the admin: search, filters, inlines and lifecycle actions."""

import pytest
from django.test import Client

from orders import services
from orders.models import OrderStatus
from tests.orders.factories import place_order

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def test_order_admin_lists_searches_and_filters(admin_client, user, other_user, product):
    mine = place_order(user, {product: 1})
    theirs = place_order(other_user, {product: 1})
    services.order_transition(order=theirs, to_status=OrderStatus.PAID)

    content = admin_client.get("/admin/orders/order/").content.decode()
    assert mine.number in content and theirs.number in content
    content = admin_client.get("/admin/orders/order/", {"q": mine.number}).content.decode()
    assert mine.number in content and theirs.number not in content
    content = admin_client.get("/admin/orders/order/", {"q": other_user.email}).content.decode()
    assert theirs.number in content and mine.number not in content
    content = admin_client.get("/admin/orders/order/", {"status__exact": "paid"}).content.decode()
    assert theirs.number in content and mine.number not in content


def test_order_admin_page_shows_lines_and_events(admin_client, user, product):
    order = place_order(user, {product: 2})
    content = admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert product.sku in content and "Order placed." in content


def test_bulk_action_confirms_then_moves_orders_and_reports_refusals(
    admin_client, staff_user, user, product
):
    paid = place_order(user, {product: 1})
    services.order_transition(order=paid, to_status=OrderStatus.PAID)
    pending = place_order(user, {product: 1})
    selected = {"action": "mark_processing", "_selected_action": [paid.pk, pending.pk]}

    confirm = admin_client.post("/admin/orders/order/", selected)
    content = confirm.content.decode()
    assert confirm.status_code == 200
    assert "These orders will become processing" in content and paid.number in content
    assert "These stay as they are" in content and pending.number in content
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID  # nothing changed before the confirmation

    response = admin_client.post(
        "/admin/orders/order/", {**selected, "apply": "yes", "note": "Packing today."}, follow=True
    )

    content = response.content.decode()
    assert "1 order(s) marked processing." in content
    assert f"Not allowed from their status: {pending.number}" in content
    paid.refresh_from_db()
    pending.refresh_from_db()
    assert (paid.status, pending.status) == (OrderStatus.PROCESSING, OrderStatus.PENDING_PAYMENT)
    event = paid.events.last()
    assert (event.actor_id, event.note) == (staff_user.pk, "Packing today.")
