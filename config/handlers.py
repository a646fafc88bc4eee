"""Provider deliveries on a lean chain: the webhook route skips what pages and people need.

A payment provider's POST /api/v1/payments/webhooks/<gateway>/ carries no cookie, no CSRF
token and no user: it is authenticated by its signature (payments.api.WebhookView).
Serving it through the whole MIDDLEWARE (sessions, CSRF, authentication, messages, CSP,
CORS, static files) and the whole URLconf costs more than verifying and storing it, and
under a burst of deliveries that cost is what the provider waits on.

`application` (config.wsgi) sends that route to `WebhookHandler`: the middleware in
`settings.WEBHOOK_MIDDLEWARE` (request id, request logging, security headers, crafted
input, metrics when on) and a URLconf of that one route (config.urls_webhooks). Every
other request takes Django's usual handler. Same view, same answers, same error shape;
`reverse()`, the error handlers (handler404/500) and the schema still use the main URLconf.

One more round trip is saved: the per-request health check of a reused database
connection (CONN_HEALTH_CHECKS' `SELECT 1`, which costs as much as the delivery's own
write). A delivery makes one autocommit write, and the inbox retries it once on a fresh
connection when the reused one has died (payments.services.webhooks), which is what the
check is there for. Connections with errors or past their age are still closed at the
start of every request (Django's request_started), as everywhere.
"""

from django.conf import settings
from django.core.exceptions import MiddlewareNotUsed
from django.core.handlers.exception import convert_exception_to_response
from django.core.handlers.wsgi import WSGIHandler
from django.db import connections
from django.urls import get_resolver, reverse
from django.utils.module_loading import import_string

WEBHOOK_URLCONF = "config.urls_webhooks"


class LeanChainMixin:
    """A handler with its own middleware list and URLconf (sync only, as WSGI is)."""

    middleware_setting = "WEBHOOK_MIDDLEWARE"
    urlconf = WEBHOOK_URLCONF

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware, reading another list (sync middleware only).
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response)
        for middleware_path in reversed(getattr(settings, self.middleware_setting)):
            middleware = import_string(middleware_path)
            try:
                instance = middleware(handler)
            except MiddlewareNotUsed:
                continue
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, instance.process_view)
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(instance.process_template_response)
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(instance.process_exception)
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    def get_response(self, request):
        # request_started has closed what was broken or too old; skip the SELECT 1 on what
        # is left (the delivery's write is retried on a fresh connection instead).
        for connection in connections.all(initialized_only=True):
            connection.health_check_done = True
        return super().get_response(request)

    def resolve_request(self, request):
        # Resolve against the one route; the active URLconf (reverse, error handlers) is
        # left as it is.
        resolver_match = get_resolver(self.urlconf).resolve(request.path_info)
        request.resolver_match = resolver_match
        return resolver_match


class WebhookHandler(LeanChainMixin, WSGIHandler):
    """The WSGI handler for provider deliveries."""


def webhook_prefix() -> str:
    """The path every provider delivery starts with (from the main URLconf's route)."""
    marker = "gateway-name"
    url = reverse("payment-webhook", kwargs={"gateway": marker})
    return url[: url.index(marker)]


class WebhookDispatch:
    """WSGI: provider deliveries to the lean handler, everything else to Django's."""

    def __init__(self, application, webhooks=None):
        self.application = application
        self.webhooks = webhooks if webhooks is not None else WebhookHandler()
        self.prefix = webhook_prefix()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO", "").startswith(self.prefix):
            return self.webhooks(environ, start_response)
        return self.application(environ, start_response)
