"""Error pages for failures outside the views: a lost database or Redis answers 503.

Under /api/ every one of them answers the API's error shape (`{"detail", "code"}`), as the
schema documents: 400 `bad_request` (a `SuspiciousOperation` such as `DisallowedHost`, raised
in a middleware before any view), 500 `server_error`, 503 `service_unavailable`. Shop pages
keep their HTML pages.

Django calls `handler500` from inside the `except` block that caught the exception, so the
exception is still in `sys.exc_info()`. A lost database (connection refused, dropped, reset
while PostgreSQL restarts) is not a bug in a request: the client is told to retry shortly,
in the API's error shape under /api/ and with a page elsewhere. The same for Redis (cache
or broker) where a code path cannot do without it. Everything else keeps the usual 500.
"""

import logging
import sys

from django.db import InterfaceError, OperationalError
from django.http import HttpResponse, JsonResponse
from django.template import loader
from django.views.defaults import bad_request, server_error
from kombu.exceptions import OperationalError as BrokerError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
UNAVAILABLE = (
    OperationalError,
    InterfaceError,
    RedisConnectionError,
    RedisTimeoutError,
    BrokerError,
)


def _service_unavailable(exc: BaseException | None) -> bool:
    while exc is not None:
        if isinstance(exc, UNAVAILABLE):
            return True
        exc = exc.__cause__ or exc.__context__
    return False


API_PREFIX = "/api/"


def handler400(request, exception=None, *args, **kwargs):
    """A `SuspiciousOperation` outside a view (a Host not in ALLOWED_HOSTS, and the like).

    Django has already logged it (django.security.*). Reads only the path: `get_host()`
    would raise again for a bad Host.
    """
    if request.path.startswith(API_PREFIX):
        return JsonResponse({"detail": "Malformed request.", "code": "bad_request"}, status=400)
    return bad_request(request, exception, *args, **kwargs)


def handler500(request, *args, **kwargs):
    exc = sys.exc_info()[1]
    if not _service_unavailable(exc):
        if request.path.startswith(API_PREFIX):
            return JsonResponse({"detail": "Server error.", "code": "server_error"}, status=500)
        return server_error(request, *args, **kwargs)
    logger.warning("service unavailable: %s: %s", exc.__class__.__name__, exc)
    if request.path.startswith(API_PREFIX):
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
