"""Celery tasks of accounts: each takes ids, calls one service and is safe to run twice."""

from celery import shared_task

from . import services
from .email_change import email_change_mail_send  # noqa: F401  (registers the task)


# The mail tasks send once per task id (the outbox fixes it per message, redeliveries keep
# it): a second run of the same task sends nothing.
@shared_task(bind=True, name="accounts.tasks.email_verification_send", acks_late=True)
def email_verification_send(self, user_id: int) -> bool:
    """Mail the verification link."""
    return services.verification_email_send(user_id=user_id, once_key=self.request.id)


@shared_task(bind=True, name="accounts.tasks.email_account_exists_send", acks_late=True)
def email_account_exists_send(self, user_id: int) -> bool:
    return services.account_exists_email_send(user_id=user_id, once_key=self.request.id)


@shared_task(bind=True, name="accounts.tasks.email_password_reset_send", acks_late=True)
def email_password_reset_send(self, user_id: int) -> bool:
    return services.password_reset_email_send(user_id=user_id, once_key=self.request.id)


@shared_task(name="accounts.tasks.sessions_purge", acks_late=True)
def sessions_purge() -> dict:
    """Delete expired refresh-token rows and old sessions (beat: hourly)."""
    return services.sessions_purge()
