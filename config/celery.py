"""The Celery app: settings under the CELERY_ namespace, tasks found in each app's tasks.py.

Logs: django-structlog carries the request's context (request id, user id, session id) into
the tasks the request queues: `before_task_publish` copies it into the message headers (the
receiver is connected when Django starts, with DJANGO_STRUCTLOG_CELERY_ENABLED) and the worker
step below binds it again in `task_prerun`, so a task's log lines share the request's id.

Outages: every task is safe to run twice, so a task that failed because PostgreSQL or Redis
was unreachable (restarting, failing over) is retried with a backoff instead of being
dropped; its message is acknowledged only once the retry is queued.
"""

import os

from celery import Celery, Task
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

OUTAGE_MAX_RETRIES = 30
OUTAGE_MAX_BACKOFF_SECONDS = 30


def _outage_errors() -> tuple[type[BaseException], ...]:
    from django.db import InterfaceError, OperationalError
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    return (OperationalError, InterfaceError, RedisConnectionError, RedisTimeoutError, BrokerError)


class ShopTask(Task):
    """Retry a task whose database or Redis went away mid-run (tasks are idempotent), and an
    email another run is sending once that run's claim has lapsed (outbox.mail)."""

    def __call__(self, *args, **kwargs):
        from outbox.mail import MailInProgress

        try:
            return super().__call__(*args, **kwargs)
        except MailInProgress as exc:
            if self.request.called_directly or self.app.conf.task_always_eager:
                raise
            raise self.retry(
                exc=exc,
                countdown=int(exc.retry_in) + 1,
                max_retries=max(self.max_retries or 0, OUTAGE_MAX_RETRIES),
            ) from exc
        except _outage_errors() as exc:
            if self.request.called_directly or self.app.conf.task_always_eager:
                raise
            from django.db import close_old_connections

            close_old_connections()  # a broken connection is dropped, the retry opens one
            retries = self.request.retries or 0
            raise self.retry(
                exc=exc,
                countdown=min(OUTAGE_MAX_BACKOFF_SECONDS, 2**retries),
                max_retries=max(self.max_retries or 0, OUTAGE_MAX_RETRIES),
            ) from exc


app = Celery("shop", task_cls=ShopTask)
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(DjangoStructLogInitStep)
