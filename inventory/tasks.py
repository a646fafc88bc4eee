"""Celery tasks of inventory: each takes ids, calls one service and is safe to run twice."""

import logging

from celery import shared_task
from django.utils import timezone

from . import selectors, services

logger = logging.getLogger(__name__)


class ReservationExpiryFailed(Exception):
    """Some references could not be expired (the others were); the task run is a failure."""

    def __init__(self, references, expired):
        self.references, self.expired = references, expired
        super().__init__(
            f"Expired {expired} reservation(s); could not expire {', '.join(references)}."
        )


@shared_task(name="inventory.tasks.reservations_release_expired", acks_late=True)
def reservations_release_expired() -> int:
    """Expire overdue reservations, one transaction per reference; return how many expired."""
    now = timezone.now()
    expired, failed = 0, []
    for reference in selectors.reservation_references_due(now=now):
        try:
            expired += services.reservations_expire(reference=reference, now=now)
        except Exception:
            # One failing reference (say, a receiver's error) must not hold back the others;
            # its reservations stay active and the next run tries again.
            logger.exception("Could not expire the reservations of %s", reference)
            failed.append(reference)
    if failed:
        raise ReservationExpiryFailed(failed, expired)
    return expired


@shared_task(name="inventory.tasks.stock_alerts_evaluate", acks_late=True)
def stock_alerts_evaluate(stock_item_ids: list[int] | None = None) -> dict:
    """Open and close stock alerts for these items (all items when None)."""
    return services.stock_alerts_evaluate(stock_item_ids=stock_item_ids)


@shared_task(name="inventory.tasks.stock_alert_notify", acks_late=True)
def stock_alert_notify(alert_id: int) -> bool:
    """Email staff about an opened alert; only the first run sends."""
    return services.stock_alert_notify(alert_id=alert_id)
