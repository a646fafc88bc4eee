"""Receivers of other apps' signals; each hands over to a service or queues a task."""

from django.dispatch import receiver

from orders.signals import order_refund_requested
from outbox.services import task_enqueue


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
