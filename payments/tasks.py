from celery import shared_task

from . import services
from .gateways.base import PAYMENT_SUCCEEDED
from .models import Payment


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


@shared_task(name="payments.tasks.dummy_payment_settle", acks_late=True)
def dummy_payment_settle(payment_id: int, event_type: str = PAYMENT_SUCCEEDED) -> bool:
    """Send the dummy provider's signed settlement webhook; the event id makes reruns no-ops."""
    payment = Payment.objects.filter(pk=payment_id).first()
    if payment is None or not payment.gateway_reference:
        return False
    services.webhook_simulate(payment=payment, event_type=event_type)
    return True
