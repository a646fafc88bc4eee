"""DRF authentication: a Bearer access token whose session is checked on every request."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import authentication, exceptions

from . import selectors, services, tokens
from .errors import TokenInvalid


class SessionTokenAuthentication(authentication.BaseAuthentication):
    """Accept `Authorization: Bearer <access token>` while the token's session is active.

    Warm, this makes no database query: the session and the user come from one cache
    round trip (see selectors.session_check). `request.auth` is the token's claims.
    """

    keyword = b"bearer"
    www_authenticate_realm = "api"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).split()
        if not header or header[0].lower() != self.keyword:
            return None
        if len(header) != 2:
            raise exceptions.AuthenticationFailed(
                "Invalid Authorization header.", code="token_invalid"
            )
        try:
            raw = header[1].decode("ascii")
            claims = tokens.token_decode(raw=raw, token_class=tokens.AccessToken)
        except UnicodeDecodeError as exc:
            raise exceptions.AuthenticationFailed(
                TokenInvalid.default_message, code="token_invalid"
            ) from exc
        except TokenInvalid as exc:  # token_expired or token_invalid
            raise exceptions.AuthenticationFailed(str(exc), code=exc.code) from exc
        check = selectors.session_check(session_id=claims["sid"], user_id=claims["user_id"])
        if check is None:
            raise exceptions.AuthenticationFailed(
                "This session has ended; log in again.", code="token_invalid"
            )
        if not check.seen_recently:
            services.session_touch(session_id=claims["sid"])
        return check.user, claims

    def authenticate_header(self, request):
        return f'Bearer realm="{self.www_authenticate_realm}"'


class SessionTokenAuthenticationScheme(OpenApiAuthenticationExtension):
    target_class = "accounts.authentication.SessionTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
