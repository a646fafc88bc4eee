"""The Celery app: settings under the CELERY_ namespace, tasks found in each app's tasks.py.

Logs: django-structlog carries the request's context (request id, user id, session id) into
the tasks the request queues: `before_task_publish` copies it into the message headers (the
receiver is connected when Django starts, with DJANGO_STRUCTLOG_CELERY_ENABLED) and the worker
step below binds it again in `task_prerun`, so a task's log lines share the request's id.
"""

import os

from celery import Celery
from django_structlog.celery.steps import DjangoStructLogInitStep

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("shop")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
app.steps["worker"].add(DjangoStructLogInitStep)
