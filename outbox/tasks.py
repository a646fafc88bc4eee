from datetime import timedelta

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from . import mail, services


@shared_task(name="outbox.tasks.outbox_sweep")
def outbox_sweep() -> dict:
    """Publish tasks that could not reach the broker at commit time (safe to run twice)."""
    return services.outbox_sweep()


@shared_task(name="outbox.tasks.mail_deliveries_purge", acks_late=True)
def mail_deliveries_purge() -> int:
    """Forget emails sent more than MAIL_DELIVERY_RETENTION_DAYS ago (safe to run twice)."""
    days = settings.MAIL_DELIVERY_RETENTION_DAYS
    return mail.mail_deliveries_purge(older_than=timezone.now() - timedelta(days=days))
