"""Payments' Celery tasks: each takes ids, calls one service, and is safe to run twice."""

from celery import shared_task

from . import dummy_provider, services
from .services import notices


@shared_task(name="payments.tasks.webhooks_drain", acks_late=True)
def webhooks_drain() -> dict:
    """Process every stored webhook event not processed yet; each is applied once."""
    return services.webhooks_drain()


@shared_task(
    name="payments.tasks.webhook_process",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=5,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=services.WEBHOOK_MAX_ATTEMPTS,
)
def webhook_process(event_id: int) -> bool:
    """Apply one stored webhook event; safe to run twice (the second run does nothing)."""
    return services.webhook_process(event_id=event_id)


@shared_task(name="payments.tasks.webhooks_process_pending", acks_late=True)
def webhooks_process_pending() -> dict:
    """Retry stored webhook events that were never processed; safe to run twice."""
    return services.webhook_process_pending()


@shared_task(name="payments.tasks.webhook_events_purge", acks_late=True)
def webhook_events_purge() -> int:
    """Drop processed and refused inbox rows past WEBHOOK_RETENTION_DAYS."""
    return services.webhook_events_purge()


@shared_task(name="payments.tasks.payments_reconcile", acks_late=True)
def payments_reconcile() -> dict:
    """Ask the gateways about payments and refunds left processing, and close the checkouts
    of orders past their reservation time (then expire them); safe to run twice."""
    return {
        "payments": services.payments_reconcile(),
        "refunds": services.refunds_reconcile(),
        "expired_checkouts": services.orders_expire_with_open_checkouts(),
    }


@shared_task(name="payments.tasks.orders_expire_with_open_checkouts", acks_late=True)
def orders_expire_with_open_checkouts() -> dict:
    """Close the open checkouts of orders past their reservation time, then expire them."""
    return services.orders_expire_with_open_checkouts()


@shared_task(
    name="payments.tasks.refund_execute",
    acks_late=True,
    autoretry_for=(Exception,),
    retry_backoff=10,
    retry_backoff_max=900,
    max_retries=8,
)
def refund_execute(refund_id: int) -> str | None:
    """Call the gateway for a recorded refund and apply its answer; the key refunds once."""
    refund = services.refund_execute(refund_id=refund_id)
    return refund.status if refund else None


@shared_task(name="payments.tasks.order_payments_refund", acks_late=True)
def order_payments_refund(order_id: int, actor_id: int | None = None, reason: str = "") -> int:
    """Refund what is left on a cancelled order's payments; safe to run twice."""
    from django.contrib.auth import get_user_model

    actor = get_user_model().objects.filter(pk=actor_id).first() if actor_id else None
    return services.order_payments_refund(
        order_id=order_id, actor=actor, reason=reason or "Order cancelled by staff."
    )


@shared_task(name="payments.tasks.payment_notify", acks_late=True, autoretry_for=(OSError,))
def payment_notify(payment_id: int, status: str) -> bool:
    """Email the shopper about their payment's outcome; the payment records the send."""
    return notices.payment_notify(payment_id=payment_id, status=status)


@shared_task(name="payments.tasks.refund_notify", acks_late=True, autoretry_for=(OSError,))
def refund_notify(refund_id: int) -> bool:
    """Email the shopper about a refund; the refund records the send."""
    return notices.refund_notify(refund_id=refund_id)


@shared_task(bind=True, name="payments.tasks.staff_alert", acks_late=True, autoretry_for=(OSError,))
def staff_alert(self, subject: str, body: str) -> int:
    """Email staff about a payment that needs a person, once per task id."""
    return notices.staff_alert(subject=subject, body=body, once_key=self.request.id)


@shared_task(name="payments.tasks.dummy_provider_settle", acks_late=True)
def dummy_provider_settle(reference: str, outcome: str = "succeeded") -> bool:
    """The dummy provider settles a pending charge and sends its signed webhook."""
    return dummy_provider.settle(reference=reference, outcome=outcome)
