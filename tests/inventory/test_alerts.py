"""Stock alerts: opened when stock runs low, closed only once it has recovered, mailed once."""

from datetime import timedelta

import pytest
from django.core import mail
from django.db import IntegrityError, transaction
from django.utils import timezone

from inventory import services, tasks
from inventory.models import StockAlert

pytestmark = pytest.mark.django_db


def _unresolved(item):
    return set(
        StockAlert.objects.filter(stock_item=item, state__in=StockAlert.UNRESOLVED).values_list(
            "kind", flat=True
        )
    )


def test_low_and_out_of_stock_open_and_close_only_above_the_threshold(stocked, settings):
    settings.STOCK_ALERT_EMAILS = ["stock@shop.example"]
    item = stocked(on_hand=6, low_stock_threshold=5)
    services.stock_alerts_evaluate()
    assert _unresolved(item) == set()

    services.stock_adjust(stock_item=item, delta=-6, reason="flood")
    services.stock_alerts_evaluate()
    assert _unresolved(item) == {"low_stock", "out_of_stock"}

    # One unit back is not a recovery: nothing flaps.
    services.stock_receive(stock_item=item, quantity=1)
    services.stock_alerts_evaluate()
    assert _unresolved(item) == {"low_stock", "out_of_stock"}

    services.stock_receive(stock_item=item, quantity=5)  # available 6 > threshold 5
    services.stock_alerts_evaluate()
    assert _unresolved(item) == set()
    assert StockAlert.objects.filter(stock_item=item, state="closed").count() == 2
    assert all(a.closed_at for a in StockAlert.objects.filter(stock_item=item))


def test_evaluating_twice_keeps_one_open_alert_per_item_and_kind(stocked):
    item = stocked(on_hand=1)
    services.stock_alerts_evaluate()
    services.stock_alerts_evaluate()
    assert StockAlert.objects.filter(stock_item=item, kind="low_stock").count() == 1


def test_database_refuses_a_second_open_alert_of_a_kind(stocked):
    item = stocked(on_hand=1)
    StockAlert.objects.create(stock_item=item, kind="low_stock", state="acknowledged")
    with pytest.raises(IntegrityError), transaction.atomic():
        StockAlert.objects.create(stock_item=item, kind="low_stock")
    StockAlert.objects.create(stock_item=item, kind="low_stock", state="closed")


def test_an_acknowledged_alert_is_not_reopened_and_closes_on_recovery(stocked):
    item = stocked(on_hand=2)
    services.stock_alerts_evaluate()
    alert = StockAlert.objects.get(stock_item=item, kind="low_stock")
    services.stock_alert_acknowledge(alert=alert)
    services.stock_alerts_evaluate()
    assert StockAlert.objects.filter(stock_item=item, kind="low_stock").count() == 1
    services.stock_receive(stock_item=item, quantity=10)
    services.stock_alerts_evaluate()
    alert.refresh_from_db()
    assert alert.state == "closed"


def test_staff_are_emailed_once_per_opened_alert(
    stocked, settings, django_capture_on_commit_callbacks
):
    settings.STOCK_ALERT_EMAILS = ["stock@shop.example"]
    item = stocked(on_hand=3)
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(stock_item=item, delta=-1, reason="count")
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["stock@shop.example"]
    assert item.product.name in mail.outbox[0].subject
    alert = StockAlert.objects.get(stock_item=item)
    assert tasks.stock_alert_notify(alert.pk) is False  # safe to run twice
    with django_capture_on_commit_callbacks(execute=True):
        services.stock_adjust(stock_item=item, delta=-1, reason="count")
    assert len(mail.outbox) == 1


def test_without_a_list_the_alert_goes_to_active_staff(stocked, staff_user, user, settings):
    settings.STOCK_ALERT_EMAILS = []
    item = stocked(on_hand=0)
    alert = StockAlert.objects.create(stock_item=item, kind="out_of_stock")
    assert tasks.stock_alert_notify(alert.pk) is True
    assert mail.outbox[0].to == [staff_user.email]


def test_stock_changes_queue_an_evaluation_after_commit(
    stocked, django_capture_on_commit_callbacks
):
    item = stocked(on_hand=10, low_stock_threshold=3)
    soon = timezone.now() + timedelta(minutes=5)
    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        services.stock_reserve(lines={item.product_id: 8}, reference="R-1", expires_at=soon)
    assert callbacks
    assert _unresolved(item) == {"low_stock"}
    with django_capture_on_commit_callbacks(execute=True):
        services.reservations_release(reference="R-1")
    assert _unresolved(item) == set()


def test_batches_expiring_soon_raise_an_alert_until_they_are_gone(stocked, settings):
    settings.BATCH_EXPIRY_WARNING_DAYS = 10
    today = timezone.localdate()
    item = stocked(on_hand=0, low_stock_threshold=0)
    later = stocked(on_hand=0, low_stock_threshold=0)
    services.stock_receive(
        stock_item=item, quantity=20, batch_number="SOON", expires_on=today + timedelta(days=3)
    )
    services.stock_receive(
        stock_item=later, quantity=20, batch_number="LATER", expires_on=today + timedelta(days=90)
    )
    services.stock_alerts_evaluate()
    assert _unresolved(item) == {"batch_expiring"}
    assert "SOON" in StockAlert.objects.get(stock_item=item).message
    assert _unresolved(later) == set()

    # Once the batch has passed its date (and been written off) the alert closes.
    services.stock_adjust(stock_item=item, delta=-20, reason="expired batch written off")
    services.stock_alerts_evaluate(today=today + timedelta(days=4))
    assert "batch_expiring" not in _unresolved(item)


def test_scheduled_task_evaluates_every_item(stocked):
    a, b = stocked(on_hand=0), stocked(on_hand=50)
    assert tasks.stock_alerts_evaluate()["opened"] == 2
    assert _unresolved(a) == {"low_stock", "out_of_stock"}
    assert _unresolved(b) == set()


@pytest.mark.parametrize("size", [3, 30])
def test_a_quiet_evaluation_costs_the_same_few_queries_for_any_number_of_items(
    stocked, django_assert_max_num_queries, size
):
    for _ in range(size):
        stocked(on_hand=50)
    stocked(on_hand=0)
    services.stock_alerts_evaluate()
    with django_assert_max_num_queries(5):
        assert services.stock_alerts_evaluate() == {"opened": 0, "closed": 0}
