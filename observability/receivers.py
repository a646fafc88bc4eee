"""Count business events from the owning apps' model signals, after their commit.

Nothing here writes to the database or changes what the apps do: a failure to count is
logged and forgotten. A change is counted when the row changes (a status reached, a
timestamp set), remembered from `post_init`, so saving a row again counts nothing.
"""

import logging

from django.db import transaction
from django.db.models.signals import post_init, post_save
from django.dispatch import receiver

from inventory.models import StockAlert
from orders.models import Order
from payments.models import Payment, WebhookEvent

from . import metrics

logger = logging.getLogger(__name__)


def _after_commit(increment) -> None:
    def run():
        try:
            increment()
        except Exception:  # metrics never break a request or a task
            logger.exception("metrics: counting failed")

    transaction.on_commit(run, robust=True)


@receiver(post_init, sender=Payment)
def _remember_payment_status(sender, instance, **kwargs):
    instance._observed_status = instance.__dict__.get("status")


@receiver(post_save, sender=Payment)
def count_payment(sender, instance, created, **kwargs):
    status = instance.status
    if status != getattr(instance, "_observed_status", None):
        _after_commit(lambda: metrics.PAYMENTS.labels(outcome=status).inc())
        instance._observed_status = status


@receiver(post_save, sender=Order)
def count_order(sender, instance, created, **kwargs):
    if created:
        _after_commit(metrics.ORDERS_PLACED.inc)


@receiver(post_init, sender=WebhookEvent)
def _remember_webhook_processed(sender, instance, **kwargs):
    instance._observed_processed = instance.__dict__.get("processed_at") is not None


@receiver(post_save, sender=WebhookEvent)
def count_webhook(sender, instance, created, **kwargs):
    gateway = instance.gateway or "unknown"
    if created:
        result = "received" if instance.signature_valid else "refused"
        _after_commit(lambda: metrics.WEBHOOKS.labels(gateway=gateway, result=result).inc())
    processed = instance.processed_at is not None
    if processed and not getattr(instance, "_observed_processed", False):
        _after_commit(lambda: metrics.WEBHOOKS.labels(gateway=gateway, result="processed").inc())
    instance._observed_processed = processed


@receiver(post_save, sender=StockAlert)
def count_stock_alert(sender, instance, created, **kwargs):
    if created:
        kind = instance.kind
        _after_commit(lambda: metrics.STOCK_ALERTS_OPENED.labels(kind=kind).inc())
