"""Error pages for failures outside the views: the database unreachable answers 503.

Django calls `handler500` from inside the `except` block that caught the exception, so the
exception is still in `sys.exc_info()`. A lost database (connection refused, dropped, reset
while PostgreSQL restarts) is not a bug in a request: the client is told to retry shortly,
in the API's error shape under /api/ and with a page elsewhere. Everything else keeps the
usual 500.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import server_error

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5


def _database_unavailable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, (OperationalError, InterfaceError)):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


def handler500(request, *args, **kwargs):
    exc = sys.exc_info()[1]
    if not _database_unavailable(exc):
        if request.path.startswith("/api/"):
            return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
        return server_error(request, *args, **kwargs)
    logger.warning("database unavailable: %s", exc.__class__.__name__)
    if request.path.startswith("/api/"):
        response = JsonResponse(
            {
                "detail": "The service is briefly unavailable; try again in a moment.",
                "code": "service_unavailable",
            },
            status=503,
        )
    else:
        template = loader.get_template("503.html")
        response = HttpResponse(template.render(), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    return response
