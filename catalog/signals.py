"""Signals catalog sends to the apps above it (inventory listens; catalog never imports it)."""

from django.dispatch import Signal

# Sent with `product=<Product>` inside the transaction that is about to delete it, so an app
# holding an empty record of the product (its stock item) can remove it first. A record
# with history stays, and the product is then refused as in use.
product_deleting = Signal()
