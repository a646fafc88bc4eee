"""JWTs (through simplejwt) and the email-verification token generator.

JWTs are encoded and verified by simplejwt with a backend pinned to HS256 (the only
algorithm accepted on decode), the configured issuer and audience. The type claim is
checked both ways: an access token is never accepted as a refresh token, nor the reverse.
"""

from datetime import datetime, timedelta
from functools import cache

from django.conf import settings
from django.contrib.auth.tokens import PasswordResetTokenGenerator
from django.utils.crypto import constant_time_compare
from django.utils.http import base36_to_int
from rest_framework_simplejwt.backends import TokenBackend
from rest_framework_simplejwt.exceptions import ExpiredTokenError
from rest_framework_simplejwt.exceptions import TokenError as SimpleJWTTokenError
from rest_framework_simplejwt.tokens import Token

from .errors import TokenExpired, TokenInvalid

ALGORITHM = "HS256"


@cache
def token_backend() -> TokenBackend:
    """Return the backend that signs and verifies every JWT (HS256 only)."""
    jwt = settings.SIMPLE_JWT
    return TokenBackend(
        ALGORITHM,
        signing_key=jwt["SIGNING_KEY"],
        audience=jwt["AUDIENCE"],
        issuer=jwt["ISSUER"],
        leeway=jwt.get("LEEWAY", 0),
    )


class _SessionToken(Token):
    @property
    def token_backend(self) -> TokenBackend:
        return token_backend()

    def verify(self) -> None:
        super().verify()
        for claim in ("sid", "user_id", "iss", "aud"):
            if claim not in self.payload:
                raise SimpleJWTTokenError(f"Token has no '{claim}' claim")


class AccessToken(_SessionToken):
    token_type = "access"
    lifetime = settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"]


class RefreshToken(_SessionToken):
    token_type = "refresh"
    lifetime = settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"]


def user_claims(user) -> dict:
    """Claims for clients to shape their screens: `email` and `role` (shopper or staff).

    Information only: authorization reads the session's cached user and its permissions,
    never these claims (they are as old as the token).
    """
    return {"email": user.email, "role": "staff" if user.is_staff else "shopper"}


def token_issue(
    *, token_class, user_id: int, session_id, expires_at: datetime, extra: dict | None = None
) -> tuple[str, dict]:
    """Sign a new token of the class for the session; return it and its claims."""
    token = token_class()
    token.set_exp(from_time=token.current_time, lifetime=expires_at - token.current_time)
    token["user_id"] = str(user_id)
    token["sub"] = str(user_id)
    token["sid"] = str(session_id)
    for name, value in (extra or {}).items():
        token[name] = value
    raw = str(token)
    return raw, token.payload


def token_decode(*, raw: str, token_class) -> dict:
    """Verify signature, algorithm, expiry, issuer, audience and type; return the claims.

    An expired token raises TokenExpired (a TokenInvalid), anything else TokenInvalid.
    """
    if not isinstance(raw, str) or not raw or len(raw) > 4096:
        raise TokenInvalid()
    try:
        token = token_class(raw)
    except ExpiredTokenError as exc:
        raise TokenExpired() from exc
    except SimpleJWTTokenError as exc:
        raise TokenInvalid() from exc
    return token.payload


def lifetime_capped(*, lifetime: timedelta, now: datetime, cap: datetime) -> datetime:
    """Return now + lifetime, but never later than cap."""
    return min(now + lifetime, cap)


class EmailVerificationTokenGenerator(PasswordResetTokenGenerator):
    """Single-use, time-limited email verification tokens.

    The hash covers the email and the verified flag, so a token stops working once the
    address is verified or changed; it expires after EMAIL_VERIFICATION_TIMEOUT seconds.
    """

    key_salt = "accounts.tokens.EmailVerificationTokenGenerator"

    def _make_hash_value(self, user, timestamp):
        return f"{user.pk}{user.email}{user.email_verified}{timestamp}"

    def check_token(self, user, token):
        if not (user and token):
            return False
        try:
            ts_b36, _hash = token.split("-")
            ts = base36_to_int(ts_b36)
        except ValueError:
            return False
        for secret in [self.secret, *self.secret_fallbacks]:
            if constant_time_compare(self._make_token_with_timestamp(user, ts, secret), token):
                break
        else:
            return False
        return (self._num_seconds(self._now()) - ts) <= settings.EMAIL_VERIFICATION_TIMEOUT


email_verification_token = EmailVerificationTokenGenerator()
