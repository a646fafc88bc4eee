"""A task the outbox sends late (sweep, admin) keeps the request id of the request behind it."""

from datetime import timedelta
from types import SimpleNamespace

import pytest
import structlog
from celery import Celery
from celery.app.task import Context, Task
from django.db import transaction
from django.test import Client
from django.utils import timezone
from django_structlog.celery.receivers import CeleryReceiver
from kombu.exceptions import OperationalError
from rest_framework.test import APIClient

from config.celery import app as project_app
from outbox import services
from outbox.models import OutboxMessage
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.orders.factories import ADDRESS, stocked_product

pytestmark = pytest.mark.django_db(transaction=True)

LATER = timedelta(minutes=5)
PROXY_REQUEST_ID = "proxy-request-0123456789abcdef"
HEADER = "__django_structlog__"  # where django-structlog puts the context in a message


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _clean_log_context():
    structlog.contextvars.clear_contextvars()
    yield
    structlog.contextvars.clear_contextvars()


@pytest.fixture
def broker():
    """The project's tasks on a non-eager app with kombu's in-memory broker: what is published
    can be read back, headers included (django-structlog's publish receiver is connected)."""
    app = Celery("outbox-context", broker="memory://", set_as_current=True)
    app.conf.update(task_always_eager=False, task_default_queue="outbox-context")
    queue = SimpleNamespace(app=app, down=True)

    def messages():
        taken = []
        with app.connection_for_read() as conn:
            simple = conn.SimpleQueue("outbox-context")
            while True:
                try:
                    message = simple.get(block=False)
                except simple.Empty:
                    break
                message.ack()
                taken.append(message)
            simple.close()
        return taken

    queue.messages = messages
    messages()  # nothing left over from another test
    yield queue
    messages()
    app.close()
    project_app.set_current()
    project_app.set_default()


@pytest.fixture
def broker_down_at_commit(broker, monkeypatch):
    """Publishing fails as with a broker refusing connections until `broker.down` is False."""
    real_apply_async = Task.apply_async

    def apply_async(self, *args, **kwargs):
        if broker.down:
            raise OperationalError("[Errno 111] Connection refused")
        return real_apply_async(self, *args, **kwargs)

    monkeypatch.setattr(Task, "apply_async", apply_async)
    return broker


def _login(user) -> tuple[APIClient, dict]:
    client = APIClient()
    response = client.post(
        "/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )
    assert response.status_code == 200, response.content
    tokens = response.json()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
    return client, tokens


def _place_order(client, **headers):
    product = stocked_product(on_hand=3, price="9.00")
    added = client.post("/api/v1/cart/items/", {"product": product.pk, "quantity": 1})
    assert added.status_code == 201
    OutboxMessage.objects.all().delete()  # what setting up the stock queued: no request's
    response = client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS},
        format="json",
        headers={"Idempotency-Key": "ctx-1"},
        **headers,
    )
    assert response.status_code == 201, response.content
    return response


def _task_context(message) -> dict:
    """Return what django-structlog binds at the worker for this message (task_prerun)."""
    task = SimpleNamespace(name=message.headers["task"], request=Context(message.headers))
    CeleryReceiver().receiver_task_prerun(message.headers["id"], task)
    try:
        return structlog.contextvars.get_contextvars()
    finally:
        structlog.contextvars.clear_contextvars()


def test_the_sweep_publishes_with_the_request_id_a_trusted_proxy_gave(
    broker_down_at_commit, settings
):
    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    client, tokens = _login(user)

    response = _place_order(client, HTTP_X_REQUEST_ID=PROXY_REQUEST_ID)

    assert response["X-Request-ID"] == PROXY_REQUEST_ID
    waiting = list(OutboxMessage.objects.all())
    assert waiting and all(m.attempts == 1 for m in waiting)  # refused at commit
    for message in waiting:
        assert message.context["request_id"] == PROXY_REQUEST_ID
        assert message.context["session_id"] == str(tokens["session_id"])
        assert message.context["user_id"] == user.pk
        assert "access" not in str(message.context) and tokens["access"] not in str(message.context)

    broker_down_at_commit.down = False
    # The sweep runs as a task of its own at a worker, with a context of its own.
    structlog.contextvars.bind_contextvars(task_id="sweep-task-1")
    counts = services.outbox_sweep(now=timezone.now() + LATER)
    assert counts == {"sent": len(waiting), "failed": 0, "pending": 0}
    assert structlog.contextvars.get_contextvars() == {"task_id": "sweep-task-1"}  # restored

    published = broker_down_at_commit.messages()
    assert sorted(m.headers["task"] for m in published) == sorted(m.task_name for m in waiting)
    for message in published:
        headers = message.headers[HEADER]
        assert headers["request_id"] == PROXY_REQUEST_ID
        assert headers["session_id"] == str(tokens["session_id"])
        assert headers["user_id"] == user.pk
        assert "parent_task_id" not in headers  # the request queued it, not the sweep
        bound = _task_context(message)
        assert bound["request_id"] == PROXY_REQUEST_ID
        assert bound["task_id"] == message.headers["id"]


def test_send_now_in_the_admin_publishes_with_the_shoppers_generated_request_id(
    broker_down_at_commit,
):
    shopper = UserFactory()
    client, _ = _login(shopper)
    response = _place_order(client, HTTP_X_REQUEST_ID="forged-by-the-client-0001")
    request_id = response["X-Request-ID"]
    assert request_id != "forged-by-the-client-0001" and len(request_id) == 32  # made up
    assert {m.context["request_id"] for m in OutboxMessage.objects.all()} == {request_id}

    broker_down_at_commit.down = False
    staff = Client()
    staff.force_login(UserFactory(is_staff=True, is_superuser=True))
    listing = staff.get("/admin/outbox/outboxmessage/", {"q": request_id})
    assert listing.status_code == 200
    ids = list(OutboxMessage.objects.values_list("pk", flat=True))
    assert len(listing.context["cl"].result_list) == len(ids)  # found by the request id
    answer = staff.post(
        "/admin/outbox/outboxmessage/", {"action": "send_now", "_selected_action": ids}
    )
    assert answer.status_code == 302
    staff_request_id = answer["X-Request-ID"]

    published = broker_down_at_commit.messages()
    assert len(published) == len(ids)
    for message in published:
        assert message.headers[HEADER]["request_id"] == request_id != staff_request_id
        assert _task_context(message)["request_id"] == request_id


def test_a_row_keeps_only_identifiers_and_a_task_parent(broker_down_at_commit):
    structlog.contextvars.bind_contextvars(
        request_id="req-0123456789", user_id=7, task_id="parent-task", token="s3cret", ip=None
    )
    with transaction.atomic():
        services.task_enqueue("orders.tasks.order_event_notify", 1)
        services.tasks_enqueue(
            [
                ("orders.tasks.order_event_notify", [2], {}),
                ("orders.tasks.order_event_notify", [3], {}),
            ]
        )
    expected = {"request_id": "req-0123456789", "user_id": 7, "parent_task_id": "parent-task"}
    assert [m.context for m in OutboxMessage.objects.all()] == [expected] * 3

    broker_down_at_commit.down = False
    structlog.contextvars.clear_contextvars()
    services.outbox_sweep(now=timezone.now() + LATER)
    headers = [m.headers[HEADER] for m in broker_down_at_commit.messages()]
    assert headers == [expected] * 3
