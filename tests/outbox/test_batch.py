"""tasks_enqueue: several after-commit tasks in one INSERT, published and deleted in one DELETE."""

import pytest
from celery.app.task import Task
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from kombu.exceptions import OperationalError

from outbox import services
from outbox.models import OutboxMessage

pytestmark = pytest.mark.django_db(transaction=True)

CALLS = [
    ("orders.tasks.order_event_notify", [1], {}),
    ("inventory.tasks.stock_alerts_evaluate", [[1, 2]], {}),
]


@pytest.fixture
def published(monkeypatch):
    """A broker that takes every task (recorded, not run)."""
    monkeypatch.setattr(services, "_eager", lambda: False)
    sent = []
    monkeypatch.setattr(Task, "apply_async", lambda self, *a, **k: sent.append(self.name))
    return sent


def test_batch_is_one_insert_and_one_delete(published):
    with CaptureQueriesContext(connection) as ctx:
        with transaction.atomic():
            services.tasks_enqueue(CALLS)
        after_commit = len(ctx.captured_queries)
    statements = [q["sql"].split()[0] for q in ctx.captured_queries]
    assert statements == ["BEGIN", "INSERT", "COMMIT", "DELETE"], statements
    assert after_commit == 4
    assert published == [name for name, _, _ in CALLS]
    assert not OutboxMessage.objects.exists()


def test_rolled_back_batch_queues_nothing(published):
    with pytest.raises(RuntimeError), transaction.atomic():
        services.tasks_enqueue(CALLS)
        raise RuntimeError("rollback")
    assert published == [] and not OutboxMessage.objects.exists()


def test_broker_down_keeps_the_whole_batch_for_the_sweep_after_one_attempt(monkeypatch):
    monkeypatch.setattr(services, "_eager", lambda: False)
    attempts = []

    def refuse(self, *args, **kwargs):
        attempts.append(self.name)
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(Task, "apply_async", refuse)
    with transaction.atomic():
        services.tasks_enqueue(CALLS)
    assert len(attempts) == 1  # a slow or refusing broker is waited on once per request
    rows = list(OutboxMessage.objects.order_by("pk"))
    assert [row.task_name for row in rows] == [name for name, _, _ in CALLS]
    assert all(row.attempts == 1 and "Connection refused" in row.last_error for row in rows)
