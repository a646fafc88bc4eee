"""Signals orders sends to higher apps (payments)."""

from django.dispatch import Signal

# Sent inside the transaction that cancels a paid or processing order, with `order` and
# `actor`; payments queues the refund in its receiver (it runs after the commit).
order_refund_requested = Signal()

# Sent with `order` and `to_status` (cancelled or expired) outside any transaction, before
# orders cancels or expires an order still waiting for payment. Payments closes a hosted
# checkout still open at the provider (a provider may be called: no transaction is open);
# a receiver that raises (PaymentInProgress) refuses the cancel or expiry.
order_closing = Signal()
