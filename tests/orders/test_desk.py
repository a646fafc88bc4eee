"""The order desk: lifecycle buttons with a confirmation page, guarded by transition_order."""

import pytest
from django.test import Client

from orders import services
from orders.models import Order, OrderStatus
from tests.orders.factories import place_order
from tests.reports.factories import staff_with

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def clerk(db):
    return staff_with(
        "orders.view_order",
        "orders.transition_order",
        models={"orders.transition_order": Order},
    )


@pytest.fixture
def paid(user, product):
    order = place_order(user, {product: 2})
    services.order_transition(order=order, to_status=OrderStatus.PAID)
    return order


def test_order_page_offers_only_allowed_steps_and_no_save(clerk, paid):
    html = client_for(clerk).get(f"/admin/orders/order/{paid.pk}/change/").content.decode()
    assert f"/admin/orders/order/{paid.pk}/transition/processing/" in html
    assert f"/admin/orders/order/{paid.pk}/transition/cancelled/" in html
    assert "/transition/shipped/" not in html and "/transition/delivered/" not in html
    assert 'name="_save"' not in html and 'name="_continue"' not in html
    # The address as on a parcel, not JSON.
    assert "Ada Lovelace<br>12 St James&#x27;s Square<br>SW1Y 4JH London<br>GB" in html
    assert "{&quot;" not in html


def test_step_is_confirmed_with_a_note_before_it_happens(clerk, paid):
    client = client_for(clerk)
    url = f"/admin/orders/order/{paid.pk}/transition/processing/"

    page = client.get(url)
    assert page.status_code == 200
    assert "Paid</strong> &rarr; <strong>Processing" in page.content.decode()
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID

    done = client.post(url, {"note": "Picked by Sam."}, follow=True)
    assert f"Order {paid.number} is now processing." in done.content.decode()
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PROCESSING
    event = paid.events.last()
    assert (event.actor_id, event.note) == (clerk.pk, "Picked by Sam.")


def test_a_step_not_allowed_from_the_status_changes_nothing(clerk, paid):
    response = client_for(clerk).post(
        f"/admin/orders/order/{paid.pk}/transition/delivered/", follow=True
    )
    assert "cannot go from paid to delivered" in response.content.decode()
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID


def test_cancel_confirmation_says_the_money_goes_back(clerk, paid):
    page = client_for(clerk).get(f"/admin/orders/order/{paid.pk}/transition/cancelled/")
    assert "refunded in full" in page.content.decode()


def test_staff_without_transition_right_see_no_buttons_and_are_refused(paid):
    viewer = staff_with("orders.view_order")
    client = client_for(viewer)
    html = client.get(f"/admin/orders/order/{paid.pk}/change/").content.decode()
    assert "/transition/" not in html
    url = f"/admin/orders/order/{paid.pk}/transition/processing/"
    assert client.get(url).status_code == 403
    assert client.post(url, {"note": ""}).status_code == 403
    listing = client.get("/admin/orders/order/").content.decode()
    assert "mark_processing" not in listing
    refused = client.post(
        "/admin/orders/order/",
        {"action": "mark_processing", "_selected_action": [paid.pk], "apply": "yes"},
    )
    assert refused.status_code in (200, 302)
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID


def test_cancelling_a_paid_order_without_the_refund_right_is_refused(clerk, paid):
    client = client_for(clerk)
    done = client.post(
        f"/admin/orders/order/{paid.pk}/transition/cancelled/", {"note": ""}, follow=True
    )
    assert "needs the permission to refund payments" in done.content.decode()
    bulk = client.post(
        "/admin/orders/order/",
        {"action": "mark_cancelled", "_selected_action": [paid.pk], "apply": "yes"},
        follow=True,
    )
    assert f"Not changed: {paid.number}." in bulk.content.decode()
    paid.refresh_from_db()
    assert paid.status == OrderStatus.PAID
