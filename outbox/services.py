"""One way to queue a Celery task after commit: durable, logged, never an error for the caller.

    from outbox.services import task_enqueue
    task_enqueue(order_event_notify, event.pk)            # a task object or its name

The task is written to the outbox in the caller's transaction. After commit it is published
at once with a short timeout; on success its row is deleted. If the broker cannot take it
(down, slow), the row stays and `outbox_sweep` (beat, every minute) publishes it later.
Outside a transaction the row is committed and published immediately.

Logs: the row keeps the log context of the request (or task) that queued it, as
django-structlog would copy it into the message headers (request id, user id, session id,
client address, parent task id; nothing else, so never a token). Every publish binds that
context around the send, so a task the sweep or the admin sends minutes later still carries
the original request id, not the sweep's.
"""

import logging
from contextlib import contextmanager
from datetime import timedelta
from functools import partial
from importlib import import_module

import structlog
from celery import current_app
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone
from django_structlog.celery.signals import modify_context_before_task_publish
from kombu.exceptions import EncodeError

from .models import OutboxMessage

logger = logging.getLogger(__name__)


# What a message may carry of its log context: identifiers to correlate lines, never a secret.
CONTEXT_KEYS = ("request_id", "correlation_id", "user_id", "session_id", "ip", "parent_task_id")


def _task_name(task) -> str:
    return task if isinstance(task, str) else task.name


def _log_context() -> dict:
    """Return the log context a task queued now should carry (as django-structlog builds it)."""
    context = structlog.contextvars.get_contextvars()
    if "task_id" in context:  # queued by a task: that task is the new one's parent
        context["parent_task_id"] = context.pop("task_id")
    # The receivers django-structlog calls before a publish (observability adds the session
    # id, known only from the request being served).
    modify_context_before_task_publish.send(
        sender=_log_context, context=context, task_routing_key=None, task_properties=None
    )
    return {key: context[key] for key in CONTEXT_KEYS if context.get(key) is not None}


@contextmanager
def _bound_context(context: dict):
    """Bind exactly `context` for the block (django-structlog copies it into the headers)."""
    saved = structlog.contextvars.get_contextvars()
    structlog.contextvars.clear_contextvars()
    structlog.contextvars.bind_contextvars(**context)
    try:
        yield
    finally:
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(**saved)


def task_enqueue(task, *args, **kwargs) -> OutboxMessage:
    """Queue `task(*args, **kwargs)` to run once the current transaction commits."""
    return _enqueue(_task_name(task), list(args), kwargs, countdown=0)


def task_enqueue_in(seconds: int, task, *args, **kwargs) -> OutboxMessage:
    """Queue `task(*args, **kwargs)` after commit, to run `seconds` later at the worker."""
    return _enqueue(_task_name(task), list(args), kwargs, countdown=max(0, int(seconds)))


def tasks_enqueue(calls) -> list[OutboxMessage]:
    """Queue several tasks after commit in one INSERT: `calls` is [(task, args, kwargs), ...].

    The same guarantees as `task_enqueue` (the rows commit with the caller's transaction),
    with one statement for all of them, and one DELETE for those the broker took.
    """
    calls = list(calls)
    if not calls:
        return []
    if len(calls) == 1:
        task, args, kwargs = calls[0]
        return [_enqueue(_task_name(task), list(args), dict(kwargs or {}), countdown=0)]
    context = _log_context()
    messages = [
        OutboxMessage(
            task_name=_task_name(task),
            args=list(args),
            kwargs=dict(kwargs or {}),
            context=context,
        )
        for task, args, kwargs in calls
    ]
    messages = OutboxMessage.objects.bulk_create(messages)
    transaction.on_commit(partial(_publish_all_committed, messages), robust=True)
    return messages


def _publish_all_committed(messages: list[OutboxMessage]) -> None:
    """Publish a batch right after commit; delete what the broker took in one statement."""
    if _eager():
        _delete([message.pk for message in messages])
        for message in messages:
            try:
                _publish(message)
            except Exception:
                logger.exception("outbox: task %s failed (eager mode)", message.task_name)
        return
    sent = []
    for position, message in enumerate(messages):
        try:
            _publish(message)
        except Exception as exc:
            logger.warning(
                "outbox: could not queue %s (message %s): %s; the sweep will send it",
                message.task_name,
                message.pk,
                exc,
            )
            if isinstance(exc, MESSAGE_ERRORS):
                _record_failure(message, exc)
                continue
            # The broker refused: the rest of the batch is left to the sweep without waiting
            # on the broker again (a slow broker costs the request one timeout, not one each).
            _record_failures(messages[position:], exc)
            break
        sent.append(message.pk)
    if sent:
        _delete(sent)


def _enqueue(name: str, args: list, kwargs: dict, *, countdown: int) -> OutboxMessage:
    message = OutboxMessage.objects.create(
        task_name=name, args=args, kwargs=kwargs, countdown=countdown, context=_log_context()
    )
    transaction.on_commit(partial(_publish_committed, message), robust=True)
    return message


def _eager() -> bool:
    return bool(current_app.conf.task_always_eager)


def _task(name: str):
    app = current_app
    try:
        return app.tasks[name]
    except KeyError:
        # Tasks modules load lazily; import the one that defines it ("app.tasks.func").
        # (Not app.loader.import_default_modules(): its Django fixup re-runs django.setup(),
        # which reconfigures logging in the middle of a request.)
        import_module(name.rpartition(".")[0])
        return app.tasks[name]


# Errors that are the message's own (a task renamed or removed by a deploy, arguments the
# serializer refuses): the broker is fine, so a sweep records them and goes on to the next.
MESSAGE_ERRORS = (KeyError, EncodeError, TypeError, ValueError)


def _remaining_countdown(message: OutboxMessage) -> int:
    """Return the delay still owed: time spent waiting in the outbox counts towards it."""
    if not message.countdown:
        return 0
    waited = (timezone.now() - message.created_at).total_seconds()
    return max(0, int(message.countdown - waited))


def _publish(message: OutboxMessage) -> None:
    """Hand the message to the broker (or, eager, run it here); raise if the broker refuses.

    It is sent under the log context it was queued with, whoever sends it (the request
    after its commit, the sweep, the admin).
    """
    task = _task(message.task_name)
    countdown = _remaining_countdown(message)
    options = {"countdown": countdown} if countdown else {}
    if message.task_id:
        options["task_id"] = str(message.task_id)
    with _bound_context(message.context or {}):
        if _eager():
            task.apply_async(args=message.args, kwargs=message.kwargs, **options)
            return
        task.apply_async(
            args=message.args,
            kwargs=message.kwargs,
            retry=False,  # one attempt, bounded by the broker timeouts; the sweep retries
            **options,
        )


def _record_failure(message: OutboxMessage, exc: BaseException) -> None:
    try:
        OutboxMessage.objects.filter(pk=message.pk).update(
            attempts=F("attempts") + 1,
            last_attempt_at=timezone.now(),
            leased_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
    except Exception:  # the database may be what failed; the row is still there
        logger.exception("outbox: could not record the failure of message %s", message.pk)


def _delete(ids: list[int]) -> None:
    """Delete published rows with one DELETE (no transaction of its own around it: after
    commit the request is in autocommit, and a fast delete needs no collector)."""
    queryset = OutboxMessage.objects.filter(pk__in=ids)
    queryset._raw_delete(queryset.db)


def _record_failures(messages: list[OutboxMessage], exc: BaseException) -> None:
    try:
        OutboxMessage.objects.filter(pk__in=[message.pk for message in messages]).update(
            attempts=F("attempts") + 1,
            last_attempt_at=timezone.now(),
            leased_until=None,
            last_error=f"{type(exc).__name__}: {exc}"[:2000],
        )
    except Exception:  # the database may be what failed; the rows are still there
        logger.exception("outbox: could not record the failure of %s messages", len(messages))


def _publish_committed(message: OutboxMessage) -> None:
    """Publish right after commit; keep the row for the sweep if the broker cannot take it."""
    if _eager():
        # The in-process "broker" always takes the task; a failing task is the task's
        # failure (as on a worker), not a reason to send it again.
        _delete([message.pk])
        try:
            _publish(message)
        except Exception:
            logger.exception("outbox: task %s failed (eager mode)", message.task_name)
        return
    try:
        _publish(message)
    except Exception as exc:
        logger.warning(
            "outbox: could not queue %s (message %s): %s; the sweep will send it",
            message.task_name,
            message.pk,
            exc,
        )
        _record_failure(message, exc)
        return
    _delete([message.pk])


def _claim(*, now, limit: int) -> list[OutboxMessage]:
    """Lease up to `limit` due messages to this sweep (another sweep skips them)."""
    grace = timedelta(seconds=settings.OUTBOX_SWEEP_GRACE_SECONDS)
    lease = timedelta(seconds=settings.OUTBOX_SWEEP_LEASE_SECONDS)
    with transaction.atomic():
        rows = list(
            OutboxMessage.objects.select_for_update(skip_locked=True)
            .filter(created_at__lte=now - grace)
            .filter(Q(leased_until__isnull=True) | Q(leased_until__lte=now))
            .order_by("pk")[:limit]
        )
        if rows:
            # The lease only: an attempt is counted when one fails (_record_failure).
            OutboxMessage.objects.filter(pk__in=[row.pk for row in rows]).update(
                leased_until=now + lease
            )
    return rows


def outbox_sweep(*, limit: int = 500, now=None) -> dict[str, int]:
    """Publish the messages that were not published at commit; return the counts.

    Messages younger than the grace period are left to their own after-commit publish. The
    broker is called with no transaction open; the first refusal stops the sweep (the broker
    is down) and leaves the rest for the next one. A message that cannot be sent whatever the
    broker's state (unknown task, unserialisable arguments) is recorded and skipped, so it
    never holds up the messages behind it.
    """
    now = now or timezone.now()
    sent = failed = 0
    rows = _claim(now=now, limit=limit)
    for position, message in enumerate(rows):
        try:
            _publish(message)
        except MESSAGE_ERRORS as exc:
            failed += 1
            _record_failure(message, exc)
            logger.error(
                "outbox sweep: message %s (%s) cannot be sent: %s; left in the outbox",
                message.pk,
                message.task_name,
                exc,
            )
            continue
        except Exception as exc:
            failed += 1
            _record_failure(message, exc)
            logger.warning("outbox sweep: broker refused %s: %s", message.task_name, exc)
            # Release the other leases at once so the next sweep can take them.
            rest = [row.pk for row in rows[position + 1 :]]
            OutboxMessage.objects.filter(pk__in=rest).update(leased_until=None)
            break
        OutboxMessage.objects.filter(pk=message.pk).delete()
        sent += 1
    if sent or failed:
        logger.info("outbox sweep: %s sent, %s failed", sent, failed)
    return {"sent": sent, "failed": failed, "pending": OutboxMessage.objects.count()}


def outbox_messages_send(*, message_ids) -> dict[str, int]:
    """Publish the chosen messages now (staff, from the admin)."""
    sent = failed = 0
    for message in OutboxMessage.objects.filter(pk__in=list(message_ids)).order_by("pk"):
        try:
            _publish(message)
        except Exception as exc:
            failed += 1
            _record_failure(message, exc)
            continue
        OutboxMessage.objects.filter(pk=message.pk).delete()
        sent += 1
    return {"sent": sent, "failed": failed}
