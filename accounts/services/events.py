"""The auth event log and the one way accounts queues its tasks after commit."""

from outbox.services import task_enqueue

from ..client import Client
from ..models import AuthEvent


def event(kind, *, client: Client, user=None, email: str = "", session_id=None, **extra):
    """Append one row to the auth event log."""
    AuthEvent.objects.create(
        kind=kind,
        user_id=getattr(user, "pk", None),
        email=(email or getattr(user, "email", "") or "")[:254],
        session_id=session_id,
        ip_address=client.ip_address,
        user_agent=client.user_agent[:512],
        extra=extra,
    )


def task_after_commit(task_name: str, *args) -> None:
    task_enqueue(f"accounts.tasks.{task_name}", *args)
