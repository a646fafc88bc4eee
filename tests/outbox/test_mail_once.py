"""Emails that must go out once: claimed before the send, never sent inside a transaction, so a
database failing right after the send (a PostgreSQL restart) does not send them again."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import OperationalError, connection
from django.utils import timezone

from orders.models import OrderEvent
from orders.tasks import order_event_notify
from outbox.mail import MailInProgress
from outbox.models import MailDelivery
from tests.orders.factories import stocked_product
from tests.outbox.test_outbox import place_order


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def placement_event(response) -> OrderEvent:
    assert response.status_code == 201, response.content
    return OrderEvent.objects.get(order__number=response.json()["number"], to_status="")


def run_until_done(event_id: int, tries: int = 3) -> None:
    """Run the task as a worker would: again after it failed (Celery's retry)."""
    for _ in range(tries):
        try:
            order_event_notify.run(event_id)
            return
        except OperationalError:
            continue
    raise AssertionError("the task never finished")


@pytest.mark.django_db(transaction=True)
def test_the_database_failing_right_after_the_send_does_not_send_the_email_again(
    user_client, monkeypatch, settings
):
    settings.MAIL_MARK_RETRY_SECONDS = 5
    product = stocked_product(on_hand=3, price="9.00")
    response = place_order(user_client, product)
    assert response.status_code == 201
    event = OrderEvent.objects.get(order__number=response.json()["number"])
    assert len(mail.outbox) == 1  # sent at commit (eager Celery)
    OrderEvent.objects.filter(pk=event.pk).update(notified_at=None)  # as if never recorded
    MailDelivery.objects.all().delete()
    mail.outbox.clear()

    real_commit = connection.commit
    failed = []

    def commit_fails_once_after_a_send():
        if mail.outbox and not failed:
            failed.append(True)
            raise OperationalError("server closed the connection unexpectedly")
        return real_commit()

    monkeypatch.setattr(connection, "commit", commit_fails_once_after_a_send)
    run_until_done(event.pk)
    monkeypatch.undo()
    run_until_done(event.pk)  # a redelivered message: nothing more goes out

    assert failed == [True]
    assert len(mail.outbox) == 1
    event.refresh_from_db()
    assert event.notified_at is not None
    assert MailDelivery.objects.get(key=f"orders.event:{event.pk}").sent_at is not None


@pytest.mark.django_db(transaction=True)
def test_a_failed_send_releases_the_claim_so_the_retry_sends(user_client, monkeypatch):
    product = stocked_product(on_hand=3, price="9.00")
    event = OrderEvent.objects.get(order__number=place_order(user_client, product).json()["number"])
    OrderEvent.objects.filter(pk=event.pk).update(notified_at=None)
    MailDelivery.objects.all().delete()
    mail.outbox.clear()

    def refuse(self, *args, **kwargs):
        raise ConnectionRefusedError("[Errno 111] Connection refused")

    monkeypatch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
    with pytest.raises(ConnectionRefusedError):
        order_event_notify.run(event.pk)
    monkeypatch.undo()
    delivery = MailDelivery.objects.get(key=f"orders.event:{event.pk}")
    assert delivery.sent_at is None and delivery.claimed_until is None

    assert order_event_notify.run(event.pk) is True
    assert len(mail.outbox) == 1
    assert order_event_notify.run(event.pk) is False
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_killed_between_claim_and_send_is_taken_over_after_the_lease(user_client):
    product = stocked_product(on_hand=3, price="9.00")
    event = OrderEvent.objects.get(order__number=place_order(user_client, product).json()["number"])
    OrderEvent.objects.filter(pk=event.pk).update(notified_at=None)
    MailDelivery.objects.all().delete()
    mail.outbox.clear()
    # A worker claimed the email and died before sending it (SIGKILL).
    MailDelivery.objects.create(
        key=f"orders.event:{event.pk}",
        claimed_until=timezone.now() + timedelta(seconds=60),
        attempts=1,
    )

    with pytest.raises(MailInProgress) as caught:
        order_event_notify.run(event.pk)  # the redelivered task waits for the lease
    assert 0 < caught.value.retry_in <= 60
    assert mail.outbox == []

    MailDelivery.objects.update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert order_event_notify.run(event.pk) is True  # the lease lapsed: taken over, sent once
    assert len(mail.outbox) == 1
    assert MailDelivery.objects.get().attempts == 2
