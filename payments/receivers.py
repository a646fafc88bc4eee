"""Receivers of other apps' signals; each hands over to a service."""

from django.dispatch import receiver

from orders.signals import order_refund_requested

from . import services


@receiver(order_refund_requested, dispatch_uid="payments_refund_cancelled_order")
def refund_cancelled_order(sender, order, actor=None, **kwargs):
    services.order_payments_refund(order=order, actor=actor, reason="Order cancelled by staff.")
