"""Signals orders sends to higher apps (payments)."""

from django.dispatch import Signal

# Sent inside the transaction that cancels a paid or processing order, with `order` and
# `actor`; payments queues the refund in its receiver (it runs after the commit).
order_refund_requested = Signal()
