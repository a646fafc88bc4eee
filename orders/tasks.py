from datetime import timedelta

from celery import shared_task
from django.utils import timezone

from . import services


@shared_task(
    name="orders.tasks.order_event_notify",
    acks_late=True,
    autoretry_for=(OSError,),  # SMTP and connection errors; the claim rolled back, so retry
    retry_backoff=True,
    max_retries=5,
)
def order_event_notify(event_id: int) -> bool:
    """Email the shopper about one order event; safe to run twice (the event records the send)."""
    return services.order_event_notify(event_id=event_id)


@shared_task(name="orders.tasks.guest_carts_purge", acks_late=True)
def guest_carts_purge(days: int = 30) -> int:
    """Delete guest carts untouched for `days` days; safe to run twice."""
    return services.carts_purge_guest(older_than=timezone.now() - timedelta(days=days))
