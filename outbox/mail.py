"""Send an email once, with no transaction open while the mailer is called.

    from outbox.mail import mail_send_once
    mail_send_once(key=f"orders.event:{event.pk}", build=make_message, on_sent=mark_event)

1. One transaction claims the key (a `MailDelivery` row) for a lease, and commits.
2. The message is built and sent with no transaction open.
3. A new transaction marks the key sent and runs `on_sent` (the domain's own marker). When
   the database fails right then (restarting), the mark is retried for a while in this run;
   the send is not repeated.

A send that raises releases the claim, so a retry sends. A run that finds a live claim of
another run raises `MailInProgress`; the task is retried after the lease (`config.celery`),
so a run killed between claim and send is taken over then, not lost.
"""

import logging
import time
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.core.mail import EmailMessage
from django.db import DatabaseError, InterfaceError, OperationalError, connection, transaction
from django.utils import timezone

from .models import MailDelivery

logger = logging.getLogger(__name__)


class MailInProgress(Exception):
    """Another run holds the claim on this email; try again after `retry_in` seconds."""

    code = "mail_in_progress"

    def __init__(self, key: str, retry_in: float):
        super().__init__(f"email {key} is being sent by another run")
        self.key = key
        self.retry_in = retry_in


def _claim(key: str) -> bool:
    """Claim `key` for a lease; False when it was sent already."""
    now = timezone.now()
    until = now + timedelta(seconds=settings.MAIL_SEND_LEASE_SECONDS)
    with transaction.atomic():
        row, created = MailDelivery.objects.select_for_update().get_or_create(
            key=key, defaults={"claimed_until": until, "attempts": 1}
        )
        if created:
            return True
        if row.sent_at is not None:
            return False
        if row.claimed_until is not None and row.claimed_until > now:
            raise MailInProgress(key, retry_in=(row.claimed_until - now).total_seconds())
        row.claimed_until = until
        row.attempts += 1
        row.save(update_fields=["claimed_until", "attempts"])
    return True


def _release(key: str) -> None:
    try:
        MailDelivery.objects.filter(key=key, sent_at__isnull=True).update(claimed_until=None)
    except DatabaseError:  # the lease runs out by itself
        logger.warning("mail %s: could not release the claim; it lapses after the lease", key)


def _mark_sent(key: str, on_sent: Callable[[], object] | None) -> None:
    deadline = time.monotonic() + settings.MAIL_MARK_RETRY_SECONDS
    pause = 0.25
    while True:
        try:
            with transaction.atomic():
                MailDelivery.objects.filter(key=key).update(
                    sent_at=timezone.now(), claimed_until=None
                )
                if on_sent is not None:
                    on_sent()
            return
        except (OperationalError, InterfaceError) as exc:
            if connection.in_atomic_block or time.monotonic() > deadline:
                raise
            logger.warning("mail %s was sent; recording it failed (%s), retrying", key, exc)
            connection.close()  # the next attempt opens a fresh connection
            time.sleep(pause)
            pause = min(pause * 2, 2.0)


def mail_send_once(
    *,
    key: str,
    build: Callable[[], EmailMessage | None],
    on_sent: Callable[[], object] | None = None,
) -> bool:
    """Send the message `build` returns unless `key` was sent; return whether one was sent.

    `build` returning None means there is nothing to send (no recipient): the key is marked
    done all the same, with `on_sent`.
    """
    if not _claim(key):
        return False
    try:
        message = build()
        if message is not None:
            message.send()
    except BaseException:
        _release(key)
        raise
    _mark_sent(key, on_sent)
    return message is not None


def mail_send(*, build: Callable[[], EmailMessage | None], once_key: str | None = None) -> bool:
    """Send the message `build` returns; once per `once_key` when one is given.

    Tasks pass their Celery task id (fixed per outbox message, kept through redeliveries),
    so a task that runs twice sends its email once. `build` runs only when the email is to
    go out, so what it does (issuing a code, making a link) happens once too.
    """
    if once_key is not None:
        return mail_send_once(key=once_key, build=build)
    message = build()
    if message is None:
        return False
    message.send()
    return True


def mail_deliveries_purge(*, older_than) -> int:
    """Delete records of emails sent before `older_than`; the domain keeps its own marker."""
    deleted, _ = MailDelivery.objects.filter(sent_at__lt=older_than).delete()
    return deleted
