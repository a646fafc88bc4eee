"""End a web (Django) session whose device Session was revoked."""

from django.contrib import messages
from django.contrib.auth import SESSION_KEY, logout

from . import selectors, services

WEB_SESSION_KEY = "accounts_session_id"


class SessionCheckMiddleware:
    """Log the browser out when its Session row has ended (logout-all, staff, password reset).

    Sits right after AuthenticationMiddleware; costs one cache round trip per logged-in
    request and nothing for anonymous ones.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        session = getattr(request, "session", None)
        if session is not None and SESSION_KEY in session:
            session_id = session.get(WEB_SESSION_KEY)
            check = None
            if session_id:
                check = selectors.session_check(
                    session_id=session_id, user_id=session.get(SESSION_KEY)
                )
            if check is None:
                logout(request)
                # MessageMiddleware runs after this one; the login page says what to do.
                messages.info(
                    request, "Your session has ended. Please log in again.", fail_silently=True
                )
            elif not check.seen_recently:
                services.session_touch(session_id=session_id)
        return self.get_response(request)
