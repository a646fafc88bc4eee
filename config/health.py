"""GET /healthz: is the database, the cache and the broker reachable?"""

import logging
import uuid

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

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


@never_cache
@require_GET
def healthz(request):
    """Report each dependency as `ok` or the error; 503 when the database is down."""
    report = {}
    for name, check in (
        ("database", _check_database),
        ("cache", _check_cache),
        ("broker", _check_broker),
    ):
        try:
            report[name] = check()
        except Exception as exc:  # a health check reports failures instead of raising them
            logger.warning("healthz: %s check failed: %s", name, exc)
            report[name] = f"error: {exc.__class__.__name__}: {exc}"[:300]
    status = 200 if report["database"] == "ok" else 503
    return JsonResponse(report, status=status)
