"""Signals inventory sends to the apps above it (orders listens; inventory never imports it)."""

from django.dispatch import Signal

# Sent with `reference=<str>` inside the transaction that expired that reference's active
# reservations, so a receiver's writes commit or roll back together with the release.
reservation_expired = Signal()
