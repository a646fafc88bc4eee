"""GET /healthz: is the database, the cache and the broker reachable; are workers and beat alive?"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from observability.heartbeat import beat_heartbeat_age

from .celery import app as celery_app

logger = logging.getLogger(__name__)


def _check_database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        cursor.fetchone()
    return "ok"


def _check_cache() -> str:
    key = f"healthz:{uuid.uuid4().hex}"
    cache.set(key, "1", timeout=5)
    if cache.get(key) != "1":
        return "error: value written to the cache could not be read back"
    cache.delete(key)
    return "ok"


def _check_broker() -> str:
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "ok"
    with celery_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)
    return "ok"


def _check_workers(report: dict) -> str:
    """Ping the Celery workers; `ok` when at least one answers within the timeout."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"  # tasks run in the web process: there is no worker to ask
    if report.get("broker") != "ok":
        return "error: broker unreachable"
    replies = celery_app.control.ping(timeout=settings.HEALTHZ_WORKER_TIMEOUT_SECONDS) or []
    report["workers_answering"] = len(replies)
    if not replies:
        return f"error: no worker answered within {settings.HEALTHZ_WORKER_TIMEOUT_SECONDS} s"
    return "ok"


def _check_beat(report: dict) -> str:
    """The beat schedules a heartbeat task; its last run must be recent."""
    if settings.CELERY_TASK_ALWAYS_EAGER:
        return "eager"
    age = beat_heartbeat_age()
    if age is None:
        return "error: no heartbeat recorded"
    report["beat_heartbeat_age_seconds"] = round(age, 1)
    if age > settings.HEALTHZ_BEAT_MAX_AGE_SECONDS:
        return f"error: last heartbeat {age:.0f} s ago"
    return "ok"


@never_cache
@require_GET
def healthz(request):
    """Report each dependency as `ok` or the error; 503 when the database is down.

    A dead worker or beat is reported but does not make the answer 503: the web process
    itself can still serve, so a load balancer should keep sending it requests.
    """
    report = {}
    for name, check in (
        ("database", _check_database),
        ("cache", _check_cache),
        ("broker", _check_broker),
        ("workers", lambda: _check_workers(report)),
        ("beat", lambda: _check_beat(report)),
    ):
        try:
            report[name] = check()
        except Exception as exc:  # a health check reports failures instead of raising them
            logger.warning("healthz: %s check failed: %s", name, exc)
            report[name] = f"error: {exc.__class__.__name__}: {exc}"[:300]
    status = 200 if report["database"] == "ok" else 503
    return JsonResponse(report, status=status)
