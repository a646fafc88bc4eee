"""The transactional outbox: Celery tasks recorded with the write that asks for them."""

import uuid

from django.db import models
from django.utils import timezone


class OutboxMessage(models.Model):
    """A task to publish to the broker; the row lives until the broker has taken it.

    It is written in the same transaction as the change that wants the task, so a commit
    never loses it: published right after commit, or later by the sweep when the broker was
    down or the process died in between. Tasks are safe to run twice, so a sweep that
    publishes a task whose first publish succeeded but was not recorded does no harm.
    """

    task_name = models.CharField(max_length=200)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)
    countdown = models.PositiveIntegerField(
        default=0, help_text="Seconds the task waits at the worker after it is published."
    )
    created_at = models.DateTimeField(default=timezone.now)
    attempts = models.PositiveIntegerField(default=0)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    # Set while a sweep holds the message (so two sweeps never send it at once); a failed
    # attempt clears it, so the next sweep tries again as soon as the broker is back.
    leased_until = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    # The log context of the request or task that queued it (request id, user, session; never
    # a token), bound again when the message is published, so a task the sweep sends later
    # logs under the request that asked for it.
    context = models.JSONField(default=dict, db_default={}, blank=True)
    # The Celery task id, fixed when the row is written: every publish of the message (after
    # commit, by the sweep, again after a publish whose DELETE was lost) and every redelivery
    # carries the same id, so a task can do a thing once per id (outbox.mail). Empty for rows
    # a previous release wrote.
    task_id = models.UUIDField(default=uuid.uuid4, null=True, blank=True, editable=False)

    class Meta:
        ordering = ("pk",)
        indexes = [models.Index(fields=("created_at",), name="outbox_created_idx")]

    def __str__(self) -> str:
        return f"{self.task_name} (queued {self.created_at:%Y-%m-%d %H:%M:%S})"


class MailDelivery(models.Model):
    """An email that must reach the mailer once: claimed before the send, marked after it.

    The claim is committed before the mailer is called (never inside a transaction), and
    holds for a lease: a run that dies between claim and send leaves a claim that a later run
    takes over once the lease has passed, so the email is neither lost nor sent twice by a
    database that fails after the send.
    """

    key = models.CharField(max_length=200, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    claimed_until = models.DateTimeField(null=True, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("-pk",)
        verbose_name_plural = "mail deliveries"
        indexes = [models.Index(fields=("sent_at",), name="outbox_mail_sent_idx")]

    def __str__(self) -> str:
        return self.key
