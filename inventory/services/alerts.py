"""Stock alerts: low stock and expiring batches opened, closed, acknowledged and mailed."""

from collections import defaultdict
from datetime import date, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import EmailMessage
from django.db import IntegrityError, transaction
from django.utils import timezone

from outbox.mail import mail_send_once
from outbox.services import task_enqueue

from ..models import Batch, StockAlert, StockItem
from .base import (
    _actor,
)


def _alert_open(*, stock_item_id: int, kind: str, message: str) -> StockAlert | None:
    """Open an alert unless one of that kind is already unresolved; return it if new."""
    try:
        with transaction.atomic():
            alert = StockAlert.objects.create(
                stock_item_id=stock_item_id, kind=kind, message=message[:255]
            )
    except IntegrityError:
        return None  # a concurrent evaluation opened it first
    task_enqueue("inventory.tasks.stock_alert_notify", alert.pk)
    return alert


def _alert_close(*, stock_item_id: int, kind: str) -> int:
    return StockAlert.objects.filter(
        stock_item_id=stock_item_id, kind=kind, state__in=StockAlert.UNRESOLVED
    ).update(state=StockAlert.State.CLOSED, closed_at=timezone.now())


@transaction.atomic
def stock_alerts_evaluate(*, stock_item_ids=None, today: date | None = None) -> dict[str, int]:
    """Open and close low-stock, out-of-stock and batch-expiring alerts; return the counts.

    Hysteresis: low_stock opens at available <= threshold and out_of_stock at available == 0,
    and both close only once available rises above the threshold, so an item hovering around
    zero does not open and close alerts on every sale.
    """
    today = today or timezone.localdate()
    horizon = today + timedelta(days=settings.BATCH_EXPIRY_WARNING_DAYS)
    items = StockItem.objects.select_related("product").order_by("pk")
    batches = Batch.objects.filter(expires_on__gte=today, expires_on__lte=horizon)
    alerts = StockAlert.objects.filter(state__in=StockAlert.UNRESOLVED)
    if stock_item_ids is not None:
        ids = list(stock_item_ids)
        items, batches = items.filter(pk__in=ids), batches.filter(stock_item_id__in=ids)
        alerts = alerts.filter(stock_item_id__in=ids)
    expiring = defaultdict(list)
    for batch in batches.order_by("expires_on", "pk"):
        expiring[batch.stock_item_id].append(batch)
    unresolved = set(alerts.values_list("stock_item_id", "kind"))
    counts = {"opened": 0, "closed": 0}

    def decide(item, kind, open_when, close_when, message):
        # Only changes cost a query: most items need nothing on most runs.
        is_unresolved = (item.pk, kind) in unresolved
        if open_when and not is_unresolved:
            counts["opened"] += (
                _alert_open(stock_item_id=item.pk, kind=kind, message=message) is not None
            )
        elif close_when and is_unresolved:
            counts["closed"] += _alert_close(stock_item_id=item.pk, kind=kind)

    kinds = StockAlert.Kind
    for item in items:
        available = item.on_hand - item.reserved
        above = available > item.low_stock_threshold
        name = item.product.name
        decide(
            item,
            kinds.OUT_OF_STOCK,
            available <= 0,
            above,
            f"{name} is out of stock.",
        )
        decide(
            item,
            kinds.LOW_STOCK,
            available <= item.low_stock_threshold,
            above,
            f"{name}: {max(available, 0)} available (threshold {item.low_stock_threshold}).",
        )
        batches = expiring.get(item.pk, []) if item.on_hand > 0 else []
        decide(
            item,
            kinds.BATCH_EXPIRING,
            bool(batches),
            not batches,
            f"{name}: batch "
            + ", ".join(f"{b.number} expires {b.expires_on.isoformat()}" for b in batches),
        )
    return counts


def stock_alert_acknowledge(*, alert: StockAlert, actor=None) -> StockAlert:
    """Mark an open alert as seen; acknowledging twice, or a closed alert, changes nothing."""
    StockAlert.objects.filter(pk=alert.pk, state=StockAlert.State.OPEN).update(
        state=StockAlert.State.ACKNOWLEDGED,
        acknowledged_at=timezone.now(),
        acknowledged_by=_actor(actor),
    )
    alert.refresh_from_db()
    return alert


def stock_alert_recipients() -> list[str]:
    """Return STOCK_ALERT_EMAILS, or every active staff member's email when it is empty."""
    if settings.STOCK_ALERT_EMAILS:
        return list(settings.STOCK_ALERT_EMAILS)
    users = get_user_model().objects.filter(is_active=True, is_staff=True).order_by("pk")
    return [email for email in users.values_list("email", flat=True) if email]


def stock_alert_notify(*, alert_id: int) -> bool:
    """Email staff about a newly opened alert, once; return True if this call sent it."""
    alert = (
        StockAlert.objects.select_related("stock_item__product")
        .filter(pk=alert_id, notified_at__isnull=True, state=StockAlert.State.OPEN)
        .first()
    )
    if alert is None:
        return False

    def build() -> EmailMessage | None:
        recipients = stock_alert_recipients()
        if not recipients:
            return None
        product = alert.stock_item.product
        return EmailMessage(
            subject=f"[{settings.SHOP_NAME}] {alert.get_kind_display()}: {product.name}",
            body=(
                f"{alert.message}\n\nSKU {product.sku}. "
                f"Stock: {settings.SITE_URL}/admin/inventory/stockitem/"
                f"{alert.stock_item_id}/change/\n"
            ),
            to=recipients,
        )

    return mail_send_once(
        key=f"inventory.alert:{alert_id}",
        build=build,
        on_sent=lambda: StockAlert.objects.filter(pk=alert_id, notified_at__isnull=True).update(
            notified_at=timezone.now()
        ),
    )
