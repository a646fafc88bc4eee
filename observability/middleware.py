"""Request ids: one per request, from a trusted proxy's X-Request-ID or made up here."""

import re
import uuid
from contextvars import ContextVar

import structlog
from django.utils.functional import empty
from django_structlog import signals as structlog_signals
from django_structlog.celery import signals as structlog_celery_signals

from accounts.client import client_ip
from accounts.middleware import WEB_SESSION_KEY

from .proxy import came_through_trusted_proxy

REQUEST_ID_HEADER = "X-Request-ID"
REQUEST_ID_META = "HTTP_X_REQUEST_ID"
# What we accept from a proxy: short, printable, nothing a log reader could be fooled by.
VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")
# The request being served, for what is only known once the view authenticated it.
_current_request: ContextVar = ContextVar("observability_current_request", default=None)


def request_id_for(request) -> str:
    offered = request.META.get(REQUEST_ID_META, "")
    if offered and VALID_REQUEST_ID.match(offered) and came_through_trusted_proxy(request):
        return offered
    return uuid.uuid4().hex


class RequestIdMiddleware:
    """Settle the request id before django-structlog binds it, and return it to the client.

    Placed just before `django_structlog.middlewares.RequestMiddleware` (which is told to
    trust the header): an id offered by anyone but a trusted proxy is replaced here.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request_id = request_id_for(request)
        request.META[REQUEST_ID_META] = request_id
        request.request_id = request_id
        token = _current_request.set(request)
        try:
            response = self.get_response(request)
        finally:
            _current_request.reset(token)
        response[REQUEST_ID_HEADER] = request_id
        return response


def _session_id(request) -> str | None:
    """The device session of the request where it is known without another query."""
    claims = getattr(request, "auth", None)
    if isinstance(claims, dict) and claims.get("sid"):
        return str(claims["sid"])
    session = getattr(request, "session", None)
    if session is not None and hasattr(session, "_session_cache"):
        session_id = session.get(WEB_SESSION_KEY)
        if session_id:
            return str(session_id)
    return None


def bind_request_started(sender, request, logger, log_kwargs, **kwargs):
    # The client's address by the trusted-proxy rule (not the proxy's, not a forged header).
    structlog.contextvars.bind_contextvars(ip=client_ip(request))


def bind_request_finished(sender, request, logger, response, log_kwargs, **kwargs):
    # The API authenticates inside the view: the session is known only now.
    session_id = _session_id(request)
    if session_id:
        structlog.contextvars.bind_contextvars(session_id=session_id)


def _user_id(request) -> int | None:
    """The authenticated user's id where the request already knows it (no query)."""
    user = request.__dict__.get("user")
    user = getattr(user, "_wrapped", user)  # a lazy user counts only once it was loaded
    if user is None or user is empty or not getattr(user, "is_authenticated", False):
        return None
    return user.pk


def add_session_to_task_context(sender, context, **kwargs):
    # Tasks queued by a request (after its commit, inside the view) carry its session and
    # user too: django-structlog binds the user id only when the request has finished.
    request = _current_request.get()
    if request is None:
        return
    session_id = _session_id(request)
    if session_id:
        context["session_id"] = session_id
    user_id = _user_id(request)
    if user_id is not None and "user_id" not in context:
        context["user_id"] = user_id


structlog_celery_signals.modify_context_before_task_publish.connect(add_session_to_task_context)
structlog_signals.bind_extra_request_metadata.connect(bind_request_started)
structlog_signals.bind_extra_request_finished_metadata.connect(bind_request_finished)
