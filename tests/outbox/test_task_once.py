"""A task queued through the outbox has one id for all its publishes and redeliveries, and the
mail tasks send once per id: a task that runs twice sends one email."""

import uuid

import pytest
from django.core import mail
from django.utils import timezone

from accounts.tasks import email_password_reset_send, email_verification_send
from outbox import services
from outbox.models import OutboxMessage
from payments.tasks import staff_alert
from tests.factories import UserFactory
from tests.outbox.test_outbox_context import LATER, broker, broker_down_at_commit  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def test_the_sweep_publishes_a_message_under_the_task_id_written_with_it(
    broker_down_at_commit,  # noqa: F811
    client,
):
    user = UserFactory(email="reset-once@example.com")
    OutboxMessage.objects.all().delete()
    response = client.post(
        "/api/v1/auth/password/reset/",
        {"email": user.email},
        content_type="application/json",
    )
    assert response.status_code == 202
    (row,) = OutboxMessage.objects.all()
    assert row.task_id is not None and row.attempts == 1  # refused at commit

    broker_down_at_commit.down = False
    assert services.outbox_sweep(now=timezone.now() + LATER)["sent"] == 1
    (published,) = broker_down_at_commit.messages()
    assert published.headers["id"] == str(row.task_id)


@pytest.mark.parametrize("task", [email_password_reset_send, email_verification_send])
def test_an_account_mail_task_run_twice_under_one_id_sends_one_email(task):
    user = UserFactory(email_verified=False)
    task_id = str(uuid.uuid4())

    task.apply(args=[user.pk], task_id=task_id)
    task.apply(args=[user.pk], task_id=task_id)  # redelivered, or published again by a sweep
    assert len(mail.outbox) == 1

    task.apply(args=[user.pk], task_id=str(uuid.uuid4()))  # a new request: a new mail
    assert len(mail.outbox) == 2


def test_a_staff_alert_run_twice_under_one_id_mails_staff_once(settings):
    settings.PAYMENT_ALERT_EMAILS = ["finance@shop.example"]
    task_id = str(uuid.uuid4())
    assert staff_alert.apply(args=["Payment held", "Order 1"], task_id=task_id).get() == 1
    assert staff_alert.apply(args=["Payment held", "Order 1"], task_id=task_id).get() == 0
    assert len(mail.outbox) == 1
