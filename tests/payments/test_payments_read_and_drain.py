"""Who may list an order's payments, and webhooks acknowledged when no drain can be queued."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import roles
from orders.models import Order
from payments import tasks
from payments.models import Payment, WebhookEvent
from payments.services import webhooks
from tests.factories import UserFactory
from tests.helpers import error_code
from tests.payments.factories import CARD_OK, CARD_PENDING, event_body

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_in(db):
    """Return an API client for a staff member in the named role's group."""
    call_command("roles_sync", verbosity=0, stdout=open("/dev/null", "w"))  # noqa: SIM115

    def make(role):
        staff = UserFactory(is_staff=True)
        staff.groups.add(Group.objects.get(name=role))
        client = APIClient()
        client.force_authenticate(user=type(staff).objects.get(pk=staff.pk))
        return client

    return make


def test_warehouse_staff_may_not_list_an_orders_payments(staff_in, order, pay):
    assert pay(order, CARD_OK).status_code == 201
    warehouse = staff_in(roles.WAREHOUSE)  # orders.view_order, no payments.view_payment

    response = warehouse.get(f"/api/v1/orders/{order.number}/payments/")

    assert response.status_code == 403
    assert error_code(response) == "permission_denied"


def test_finance_staff_and_the_owner_list_the_payments(staff_in, order, pay, user_client):
    assert pay(order, CARD_OK).status_code == 201
    finance = staff_in(roles.FINANCE)

    for client in (finance, user_client):
        response = client.get(f"/api/v1/orders/{order.number}/payments/")
        assert response.status_code == 200
        assert [p["status"] for p in response.data["results"]] == ["succeeded"]


def test_staff_with_payments_view_but_not_orders_view_list_the_payments(order, pay):
    from django.contrib.auth.models import Permission

    assert pay(order, CARD_OK).status_code == 201
    staff = UserFactory(is_staff=True)
    staff.user_permissions.add(Permission.objects.get(codename="view_payment"))
    client = APIClient()
    client.force_authenticate(user=type(staff).objects.get(pk=staff.pk))

    response = client.get(f"/api/v1/orders/{order.number}/payments/")

    assert response.status_code == 200 and response.data["count"] == 1


def test_another_shopper_gets_404_for_the_payments(order, pay):
    assert pay(order, CARD_OK).status_code == 201
    stranger = APIClient()
    stranger.force_authenticate(user=UserFactory())
    assert stranger.get(f"/api/v1/orders/{order.number}/payments/").status_code == 404


def test_schema_documents_refundable_on_refund_exceeds_payment(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    refunds = schema["paths"]["/api/v1/payments/{payment_id}/refunds/"]["post"]
    bad = refunds["responses"]["400"]
    body = bad["content"]["application/json"]["schema"]["allOf"][1]
    assert "refund_exceeds_payment" in body["properties"]["code"]["enum"]
    assert body["properties"]["refundable"]["type"] == "string"
    assert "Idempotency-Key" in {p["name"] for p in refunds["parameters"]}
    assert "422" in refunds["responses"]
    listing = schema["paths"]["/api/v1/orders/{number}/payments/"]["get"]["responses"]
    assert "permission_denied" in listing["403"]["description"]


class _Down(ConnectionError):
    pass


def test_webhook_is_acknowledged_when_no_drain_can_be_queued(
    order, pay, deliver, monkeypatch, django_capture_on_commit_callbacks
):
    """Redis and the broker down: the stored delivery answers 200; the beat job applies it."""
    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])

    def down(*args, **kwargs):
        raise _Down("Redis is down")

    monkeypatch.setattr(webhooks.cache, "add", down)
    monkeypatch.setattr(webhooks, "task_enqueue", down)

    response = deliver(event_body("payment.succeeded", payment, "evt_down"))

    assert response.status_code == 200, response.content
    event = WebhookEvent.objects.get(event_id="evt_down")
    assert event.processed_at is None  # stored, acknowledged, not processed yet
    order.refresh_from_db()
    assert order.status == Order.Status.PENDING_PAYMENT

    monkeypatch.undo()
    WebhookEvent.objects.filter(pk=event.pk).update(
        received_at=timezone.now() - timedelta(minutes=2)
    )
    with django_capture_on_commit_callbacks(execute=True):
        counts = tasks.webhooks_process_pending.apply().get()

    assert counts["processed"] == 1
    order.refresh_from_db()
    assert order.status == Order.Status.PAID
    event.refresh_from_db()
    assert event.processed_at is not None


def test_webhook_queues_a_drain_through_the_outbox_when_only_the_cache_is_down(
    order, pay, deliver, monkeypatch
):
    payment = Payment.objects.get(pk=pay(order, CARD_PENDING, run_on_commit=False).data["id"])

    def down(*args, **kwargs):
        raise _Down("Redis is down")

    monkeypatch.setattr(webhooks.cache, "add", down)

    response = deliver(event_body("payment.succeeded", payment, "evt_cache_down"))

    assert response.status_code == 200
    order.refresh_from_db()
    assert order.status == Order.Status.PAID  # the drain was queued anyway (eager here)
