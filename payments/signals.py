"""Signals payments sends for apps above it (metrics) to listen to."""

from django.dispatch import Signal

# A verified webhook delivery was stored in the inbox for the first time (kwargs: gateway,
# event_id). The inbox row is written with one raw INSERT ... ON CONFLICT, so no post_save.
webhook_stored = Signal()
