from celery import shared_task

from . import services


@shared_task(name="orders.tasks.order_event_notify", acks_late=True)
def order_event_notify(event_id: int) -> bool:
    """Email the shopper about one order event; safe to run twice (the event records the send)."""
    return services.order_event_notify(event_id=event_id)
