from celery import shared_task

from . import services


@shared_task(name="outbox.tasks.outbox_sweep")
def outbox_sweep() -> dict:
    """Publish tasks that could not reach the broker at commit time (safe to run twice)."""
    return services.outbox_sweep()
