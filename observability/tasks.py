from celery import shared_task

from .heartbeat import beat_heartbeat_write


@shared_task(name="observability.tasks.beat_heartbeat", acks_late=True, ignore_result=True)
def beat_heartbeat() -> float:
    """Scheduled by the beat only: /healthz reads how long ago it last ran. Safe to run twice."""
    return beat_heartbeat_write()
