"""Statements of the webhook path, pinned (PostgreSQL; the test's SAVEPOINT/RELEASE stand for
BEGIN/COMMIT, the same count).

Acknowledging a delivery (WEBHOOK_ACK = 1): one `INSERT ... ON CONFLICT DO NOTHING
RETURNING` into the inbox, in autocommit; no session, no user, no health check. A
redelivery of a stored event costs the same single statement and queues nothing. Queueing
the drain after it is a Redis flag; the first delivery of a burst also writes the drain task
into the outbox (WEBHOOK_DRAIN_QUEUED = 1 more).

Processing a `payment.succeeded` (WEBHOOK_PROCESS_SUCCESS = 26), in one transaction: BEGIN,
the event row locked, the payment found by its reference, its order id, the order locked
then the payment (orders.locking), the fraud review check, the payment saved; the order
paid in a savepoint (the order locked again by orders' own service, two nested savepoints
of orders and inventory, the reservations and their stock rows locked, the counters, the
reservations committed, the ledger row, the stock alert task, the order row, its event),
the shopper's email task, the event marked processed, COMMIT. Processing it again: 3 (the
event row locked and seen processed).
"""

from unittest import mock

import pytest
from django.db import connection

from payments import services
from payments.models import Payment, WebhookEvent
from tests.payments.factories import CARD_PENDING, event_body

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL statement counts"),
]

WEBHOOK_ACK = 1
WEBHOOK_DRAIN_QUEUED = 1
WEBHOOK_PROCESS_SUCCESS = 26


@pytest.fixture
def pending_payment(order, pay):
    response = pay(order, CARD_PENDING, run_on_commit=False)
    return Payment.objects.get(pk=response.data["id"])


def test_a_delivery_is_acknowledged_in_one_statement(
    pending_payment, deliver, django_assert_num_queries
):
    body = event_body("payment.succeeded", pending_payment, "evt_ack")
    with mock.patch("payments.services.webhooks._drain_soon") as drain_soon:
        with django_assert_num_queries(WEBHOOK_ACK):
            first = deliver(body)
        with django_assert_num_queries(WEBHOOK_ACK):
            again = deliver(body)
    assert (first.status_code, first.json()["duplicate"]) == (200, False)
    assert (again.status_code, again.json()["duplicate"]) == (200, True)
    assert drain_soon.call_count == 1  # the redelivery queues nothing
    assert WebhookEvent.objects.filter(event_id="evt_ack").count() == 1


def test_queueing_the_drain_writes_one_outbox_row(
    pending_payment, django_assert_num_queries, settings
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    services.webhooks.cache.delete(services.webhooks.DRAIN_QUEUED_KEY)
    with (
        mock.patch("outbox.services._eager", return_value=False),
        mock.patch("celery.app.task.Task.apply_async"),
    ):
        with django_assert_num_queries(WEBHOOK_DRAIN_QUEUED):
            services.webhooks._drain_soon()
        with django_assert_num_queries(0):  # the flag is set: the next delivery adds nothing
            services.webhooks._drain_soon()


def test_processing_a_success_event(pending_payment, order, deliver, django_assert_num_queries):
    with mock.patch("payments.services.webhooks._drain_soon"):
        deliver(event_body("payment.succeeded", pending_payment, "evt_pay"))
    event = WebhookEvent.objects.get(event_id="evt_pay")
    with django_assert_num_queries(WEBHOOK_PROCESS_SUCCESS):
        assert services.webhook_process(event_id=event.pk, skip_locked=True)
    order.refresh_from_db()
    assert order.status == "paid"
    with django_assert_num_queries(3):  # again: the event row locked, seen processed
        assert not services.webhook_process(event_id=event.pk)
