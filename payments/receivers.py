"""Receivers of other apps' signals; each hands over to a service or queues a task."""

from django.dispatch import receiver

from orders.signals import order_closing, order_refund_requested
from outbox.services import task_enqueue

from . import services


@receiver(order_refund_requested, dispatch_uid="payments_refund_cancelled_order")
def refund_cancelled_order(sender, order, actor=None, **kwargs):
    # Sent inside the orders transaction: only queue (after its commit, through the outbox);
    # the refund then runs in its own phases, never inside another app's transaction.
    task_enqueue(
        "payments.tasks.order_payments_refund",
        order.pk,
        getattr(actor, "pk", None),
        "Order cancelled by staff.",
    )


@receiver(order_closing, dispatch_uid="payments_close_checkouts_before_the_order")
def close_checkouts_before_the_order(sender, order, **kwargs):
    # Sent with no transaction open, before an unpaid order is cancelled or expired: close
    # what may still take money at the provider; raising refuses the cancel or expiry.
    services.payment_checkouts_close(order_id=order.pk)
