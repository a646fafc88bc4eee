"""Signals orders sends to higher apps (payments)."""

from django.dispatch import Signal

# Sent inside the transaction that cancels a paid or processing order, with
# `order` and `actor`; payments refunds the order's payments in its receiver.
order_refund_requested = Signal()
