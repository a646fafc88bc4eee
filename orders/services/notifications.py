"""Emails to the shopper about the steps of their order, queued after commit, sent once."""

from django.conf import settings
from django.core.mail import EmailMessage
from django.template.loader import render_to_string

from accounts.links import email_link
from outbox.mail import mail_send_once
from outbox.services import task_enqueue

from .. import guest
from ..models import OrderEvent
from .base import S, _now

# Steps the shopper is emailed about (the order being placed has to_status pending_payment).
NOTIFIED_STATUSES = frozenset({S.PENDING_PAYMENT, S.SHIPPED, S.DELIVERED, S.CANCELLED, S.EXPIRED})


def _queue_notification(event: OrderEvent) -> None:
    if event.to_status not in NOTIFIED_STATUSES:
        return
    task_enqueue("orders.tasks.order_event_notify", event.pk)


def order_event_notify(*, event_id: int) -> bool:
    """Email the shopper about one step of their order, once; return whether mail was sent."""
    event = (
        OrderEvent.objects.select_related("order")
        .filter(pk=event_id, notified_at__isnull=True, to_status__in=NOTIFIED_STATUSES)
        .first()
    )
    if event is None:
        return False
    order = event.order

    def build() -> EmailMessage:
        kind = "confirmation" if event.to_status == S.PENDING_PAYMENT else event.to_status
        context = {
            "order": order,
            "lines": list(order.lines.order_by("id")),
            "event": event,
            "shop_name": settings.SHOP_NAME,
            "order_url": (
                guest.guest_order_url(order=order)
                if order.is_guest
                else email_link("order", number=order.number)
            ),
        }
        subject = render_to_string(f"orders/email/{kind}_subject.txt", context).strip()
        body = render_to_string(f"orders/email/{kind}.txt", context)
        return EmailMessage(subject, body, settings.DEFAULT_FROM_EMAIL, [order.email])

    return mail_send_once(
        key=f"orders.event:{event_id}",
        build=build,
        on_sent=lambda: OrderEvent.objects.filter(pk=event_id, notified_at__isnull=True).update(
            notified_at=_now()
        ),
    )
