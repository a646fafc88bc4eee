"""Tasks queued after commit go through the outbox: nothing is lost when the broker is down."""

import os
import threading
from datetime import timedelta

import pytest
from celery import Celery
from celery.app.task import Task
from celery.contrib.testing.worker import start_worker
from django.core import mail
from django.db import connection, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError

from config.celery import app as project_app
from orders.models import Order
from outbox import services
from outbox.models import OutboxMessage
from tests.factories import UserFactory
from tests.orders.factories import ADDRESS, stocked_product

REDIS_URL = os.environ.get("REDIS_URL", "")
LATER = timedelta(minutes=5)


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def broker_down(monkeypatch):
    """Publishing behaves as with a real broker that refuses connections."""
    monkeypatch.setattr(services, "_eager", lambda: False)

    def refuse(self, *args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(Task, "apply_async", refuse)
    return monkeypatch


def place_order(client, product, key="k-1"):
    response = client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1})
    assert response.status_code == 201
    return client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS},
        format="json",
        headers={"Idempotency-Key": key},
    )


@pytest.mark.django_db(transaction=True)
def test_order_placed_while_the_broker_is_down_answers_201_and_mails_once_it_is_back(
    user_client, broker_down
):
    product = stocked_product(on_hand=3, price="9.00")

    response = place_order(user_client, product)

    assert response.status_code == 201
    assert Order.objects.filter(number=response.json()["number"]).exists()
    assert mail.outbox == []
    waiting = list(OutboxMessage.objects.all())
    assert "orders.tasks.order_event_notify" in [m.task_name for m in waiting]
    assert all(m.attempts == 1 and "Connection refused" in m.last_error for m in waiting)

    broker_down.undo()  # the broker is back
    assert services.outbox_sweep(now=timezone.now() + LATER) == {
        "sent": len(waiting),
        "failed": 0,
        "pending": 0,
    }
    assert len(mail.outbox) == 1
    assert response.json()["number"] in mail.outbox[0].subject + mail.outbox[0].body

    assert services.outbox_sweep(now=timezone.now() + LATER)["sent"] == 0
    assert len(mail.outbox) == 1


@pytest.mark.django_db(transaction=True)
def test_a_failing_publish_does_not_drop_the_callbacks_after_it(broker_down):
    calls = []
    with transaction.atomic():
        services.task_enqueue("orders.tasks.order_event_notify", 1)
        transaction.on_commit(lambda: calls.append("next"))
    assert calls == ["next"]
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_rolled_back_work_queues_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        services.task_enqueue("orders.tasks.order_event_notify", 1)
        raise RuntimeError("rollback")
    assert OutboxMessage.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_sweep_leaves_young_messages_to_their_own_publish(broker_down):
    services.task_enqueue("orders.tasks.order_event_notify", 1)
    assert services.outbox_sweep()["sent"] == 0
    assert OutboxMessage.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_sweep_stops_at_the_first_refusal_and_releases_the_rest(broker_down):
    for event_id in (1, 2, 3):
        services.task_enqueue("orders.tasks.order_event_notify", event_id)
    counts = services.outbox_sweep(now=timezone.now() + LATER)
    assert counts == {"sent": 0, "failed": 1, "pending": 3}
    # Nothing stays leased: the refused one and the two behind it go to the next sweep.
    assert OutboxMessage.objects.filter(leased_until__isnull=True).count() == 3
    # One attempt each at commit, one more for the message the sweep tried: none counted twice.
    assert sorted(OutboxMessage.objects.values_list("attempts", flat=True)) == [1, 1, 2]


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_sweeps_publish_each_message_once(monkeypatch):
    if connection.vendor != "postgresql":
        pytest.skip("row locks need PostgreSQL")
    for event_id in range(40):
        services.task_enqueue("orders.tasks.guest_carts_purge", event_id)
    # Now make every later publish slow and counted: the messages are back in the outbox.
    OutboxMessage.objects.all().delete()
    OutboxMessage.objects.bulk_create(
        OutboxMessage(task_name="orders.tasks.guest_carts_purge", args=[n]) for n in range(40)
    )
    published, lock = [], threading.Lock()

    def publish(message):
        with lock:
            published.append(message.pk)
        threading.Event().wait(0.005)

    monkeypatch.setattr(services, "_publish", publish)
    barrier = threading.Barrier(4)

    def sweep():
        barrier.wait()
        try:
            services.outbox_sweep(now=timezone.now() + LATER)
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sorted(published) == sorted(set(published))
    assert len(published) == 40
    assert OutboxMessage.objects.count() == 0


@pytest.fixture
def dead_broker_app():
    """The project's tasks on a real, non-eager Celery app whose broker does not answer."""
    app = Celery("outbox-dead", broker="redis://127.0.0.1:1/0", set_as_current=True)
    app.conf.update(
        task_always_eager=False,
        broker_connection_timeout=1,
        broker_transport_options={"max_retries": 0, "socket_connect_timeout": 1},
    )
    yield app
    app.close()
    project_app.set_current()
    project_app.set_default()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_real_broker_outage_then_a_real_worker_sends_the_email(dead_broker_app, user_client):
    if not REDIS_URL:
        pytest.skip("Redis is not configured (REDIS_URL)")
    product = stocked_product(on_hand=3, price="9.00")

    response = place_order(user_client, product)

    assert response.status_code == 201
    waiting = OutboxMessage.objects.count()
    assert waiting >= 1
    assert mail.outbox == []

    broker = f"{REDIS_URL.rsplit('/', 1)[0]}/13"
    live = Celery("outbox-live", broker=broker, backend=broker, set_as_current=True)
    live.conf.update(task_always_eager=False, broker_connection_retry_on_startup=True)
    live.autodiscover_tasks(["orders", "inventory"], force=True)
    try:
        with start_worker(live, perform_ping_check=False, pool="solo", loglevel="WARNING"):
            assert services.outbox_sweep(now=timezone.now() + LATER)["sent"] == waiting
            for _ in range(100):
                if mail.outbox:
                    break
                threading.Event().wait(0.1)
    finally:
        live.close()
        dead_broker_app.set_current()
    assert len(mail.outbox) == 1
    assert response.json()["number"] in mail.outbox[0].subject + mail.outbox[0].body
    assert OutboxMessage.objects.count() == 0


def test_eager_mode_runs_the_task_after_commit_and_keeps_no_row(
    db, django_capture_on_commit_callbacks
):
    user = UserFactory(email_verified=False)
    with django_capture_on_commit_callbacks(execute=True):
        services.task_enqueue("accounts.tasks.email_verification_send", user.pk)
        assert OutboxMessage.objects.count() == 1
        assert mail.outbox == []
    assert OutboxMessage.objects.count() == 0
    assert [m.to for m in mail.outbox] == [[user.email]]


@pytest.mark.django_db(transaction=True)
def test_a_message_no_broker_can_take_does_not_hold_up_the_others(monkeypatch):
    monkeypatch.setattr(services, "_eager", lambda: False)
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, **kw: sent.append(kw["args"]))
    with transaction.atomic():  # a task renamed by a deploy, then two good ones
        OutboxMessage.objects.create(task_name="orders.tasks.no_longer_exists", args=[1])
        OutboxMessage.objects.create(task_name="orders.tasks.order_event_notify", args=[2])
        OutboxMessage.objects.create(task_name="orders.tasks.order_event_notify", args=[3])

    counts = services.outbox_sweep(now=timezone.now() + LATER)

    assert counts == {"sent": 2, "failed": 1, "pending": 1}
    assert sent == [[2], [3]]
    stuck = OutboxMessage.objects.get()
    assert stuck.task_name == "orders.tasks.no_longer_exists"
    assert stuck.attempts == 1 and "no_longer_exists" in stuck.last_error


@pytest.mark.django_db(transaction=True)
def test_a_delayed_task_that_waited_in_the_outbox_is_not_delayed_twice(monkeypatch):
    monkeypatch.setattr(services, "_eager", lambda: False)
    options = []
    monkeypatch.setattr(Task, "apply_async", lambda self, **kw: options.append(kw))
    queued_at = timezone.now() - LATER  # the broker was down for five minutes
    OutboxMessage.objects.create(
        task_name="orders.tasks.order_event_notify", args=[1], countdown=600, created_at=queued_at
    )
    OutboxMessage.objects.create(
        task_name="orders.tasks.order_event_notify", args=[2], countdown=60, created_at=queued_at
    )

    services.outbox_sweep()

    # Ten minutes asked, five already waited; the one-minute delay is long over.
    first, second = options
    assert 290 <= first["countdown"] <= 300
    assert "countdown" not in second


@pytest.mark.django_db(transaction=True)
def test_the_sweep_command_publishes_and_reports(broker_down):
    from io import StringIO

    from django.core.management import call_command

    services.task_enqueue("orders.tasks.order_event_notify", 1)
    OutboxMessage.objects.update(created_at=timezone.now() - LATER)
    out = StringIO()
    call_command("outbox_sweep", stdout=out)
    assert out.getvalue().strip() == "0 sent, 1 failed, 1 still waiting"

    broker_down.undo()
    monkey = pytest.MonkeyPatch()
    monkey.setattr(services, "_eager", lambda: False)
    monkey.setattr(Task, "apply_async", lambda self, **kw: None)
    try:
        out = StringIO()
        call_command("outbox_sweep", stdout=out)
    finally:
        monkey.undo()
    assert out.getvalue().strip() == "1 sent, 0 failed, 0 still waiting"


@pytest.mark.django_db
def test_send_now_in_the_admin_needs_the_permission_and_publishes(monkeypatch):
    from django.contrib.auth.models import Permission
    from django.test import Client

    monkeypatch.setattr(services, "_eager", lambda: False)
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, **kw: sent.append(kw["args"]))
    message = OutboxMessage.objects.create(task_name="orders.tasks.order_event_notify", args=[7])
    viewer = UserFactory(is_staff=True)
    viewer.user_permissions.add(Permission.objects.get(codename="view_outboxmessage"))
    client = Client()
    client.force_login(viewer)
    form = {"action": "send_now", "_selected_action": [message.pk]}

    listing = client.get("/admin/outbox/outboxmessage/")
    assert listing.status_code == 200
    assert b"send_now" not in listing.content
    client.post("/admin/outbox/outboxmessage/", form)
    assert sent == [] and OutboxMessage.objects.filter(pk=message.pk).exists()

    viewer.user_permissions.add(Permission.objects.get(codename="change_outboxmessage"))
    response = client.post("/admin/outbox/outboxmessage/", form, follow=True)
    assert "1 sent, 0 refused by the broker." in response.content.decode()
    assert sent == [[7]]
    assert not OutboxMessage.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_publish_refused_at_commit_is_sent_by_the_next_sweep_once_the_broker_is_back(
    broker_down,
):
    """A failed attempt is no lease: the next sweep (a minute later) sends it at once."""
    services.task_enqueue("orders.tasks.order_event_notify", 1)
    message = OutboxMessage.objects.get()
    assert message.attempts == 1 and message.leased_until is None

    broker_down.undo()
    published = []
    broker_down.setattr(services, "_eager", lambda: False)
    broker_down.setattr(Task, "apply_async", lambda self, **kw: published.append(self.name))
    counts = services.outbox_sweep(now=timezone.now() + timedelta(seconds=31))
    assert counts == {"sent": 1, "failed": 0, "pending": 0}
    assert published == ["orders.tasks.order_event_notify"]
