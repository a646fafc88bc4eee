"""Tokens: checking credentials, login (the first pair) and refresh (the next pairs)."""

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.db import transaction
from django.utils import timezone

from .. import tokens
from ..client import NO_CLIENT
from ..errors import (
    EmailNotVerified,
    InvalidCredentials,
    MFAChallengeInvalid,
    MFACodeInvalid,
    MFASetupRequired,
    TokenInvalid,
    TokenReused,
    TokenRotated,
    TooManyAttempts,
)
from ..models import AuthEvent, RefreshToken, Session, User, email_normalize
from . import mfa
from .events import event
from .lockout import lockout_clear, lockout_failure_record, lockout_retry_after
from .sessions import session_create, sessions_revoke_ids

Kind = AuthEvent.Kind


@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session_id: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    user: User


def login_credentials_check(
    *, email: str, password: str, client=NO_CLIENT, via: str = "api"
) -> User:
    """Return the user the credentials belong to, or raise. One check for the API, the
    shop's login page and the admin (`via` says which, in the auth log).

    Unknown email, wrong password and inactive account all raise InvalidCredentials after
    one password hash, so the answer and its time do not tell them apart. The lockout
    counts failures per email whether or not the account exists. For an account with a
    second factor the lockout is cleared only once the code is right too, so guessing
    codes after a right password still runs into it.
    """
    email = email_normalize(email)
    retry_after = lockout_retry_after(email=email)
    if retry_after:
        event(Kind.LOGIN_LOCKED, client=client, email=email, via=via)
        raise TooManyAttempts(retry_after)
    user = User.objects.filter(email=email).first()
    if user is None:
        make_password(password)
        valid = False
    else:
        valid = user.check_password(password) and user.is_active
    if not valid:
        failures = lockout_failure_record(email)
        event(Kind.LOGIN_FAILED, client=client, user=user, email=email, failures=failures, via=via)
        raise InvalidCredentials()
    if not user.email_verified:
        event(Kind.LOGIN_UNVERIFIED, client=client, user=user, via=via)
        raise EmailNotVerified()
    if not mfa.mfa_required(user):
        lockout_clear(email=email)
    return user


def _pair_issue(*, session: Session, user: User, now: datetime) -> tuple[TokenPair, RefreshToken]:
    access_expires_at = min(now + settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"], session.expires_at)
    refresh_expires_at = min(
        now + settings.SIMPLE_JWT["REFRESH_TOKEN_LIFETIME"], session.expires_at
    )
    access, _ = tokens.token_issue(
        token_class=tokens.AccessToken,
        user_id=user.pk,
        session_id=session.pk,
        expires_at=access_expires_at,
        extra=tokens.user_claims(user),
    )
    refresh, claims = tokens.token_issue(
        token_class=tokens.RefreshToken,
        user_id=user.pk,
        session_id=session.pk,
        expires_at=refresh_expires_at,
    )
    row = RefreshToken.objects.create(
        jti=claims["jti"], session=session, issued_at=now, expires_at=refresh_expires_at
    )
    pair = TokenPair(
        access=access,
        refresh=refresh,
        session_id=str(session.pk),
        access_expires_at=access_expires_at,
        refresh_expires_at=refresh_expires_at,
        user=user,
    )
    return pair, row


def login(
    *, email: str, password: str, device_name: str = "", platform: str = "", client=NO_CLIENT
) -> TokenPair | mfa.MFAChallenge:
    """Check the credentials and open an API session with its first token pair.

    A staff account with a second factor gets a challenge instead (see
    login_second_factor); one that needs a second factor it has not set up is refused.
    """
    user = login_credentials_check(email=email, password=password, client=client)
    if mfa.mfa_required(user):
        if not mfa.mfa_enrolled(user):
            event(Kind.LOGIN_FAILED, client=client, user=user, reason="mfa_setup_required")
            raise MFASetupRequired()
        return mfa.mfa_challenge_issue(user=user, context={"dn": device_name, "pf": platform})
    return _api_session_open(user=user, device_name=device_name, platform=platform, client=client)


def login_second_factor(*, challenge: str, code: str, client=NO_CLIENT) -> TokenPair:
    """Second step of an API login: a live challenge and a right code give the first pair."""
    user, context, nonce = mfa.mfa_challenge_open(challenge=challenge)
    try:
        method = mfa.mfa_check(user=user, code=code, client=client, via="api")
    except MFACodeInvalid:
        mfa.mfa_challenge_failure(nonce=nonce)
        raise
    if not mfa.mfa_challenge_spend(nonce=nonce):
        raise MFAChallengeInvalid()
    lockout_clear(email=user.email)
    return _api_session_open(
        user=user,
        device_name=str(context.get("dn") or ""),
        platform=str(context.get("pf") or ""),
        client=client,
        mfa=method,
    )


def _api_session_open(*, user, device_name, platform, client, **extra) -> TokenPair:
    with transaction.atomic():
        session = session_create(
            user=user,
            kind=Session.Kind.API,
            client=client,
            device_name=device_name,
            platform=platform,
        )
        pair, _ = _pair_issue(session=session, user=user, now=session.created_at)
        User.objects.filter(pk=user.pk).update(last_login=session.created_at)
        event(Kind.LOGIN, client=client, user=user, session_id=session.pk, **extra)
    return pair


def _refresh_grace(row: RefreshToken, now: datetime) -> bool:
    """Return True if row is the token spent just before the session's live one."""
    if row.replaced_by_id is None or row.used_at is None:
        return False
    if (now - row.used_at).total_seconds() > settings.REFRESH_REUSE_GRACE_SECONDS:
        return False
    return RefreshToken.objects.filter(pk=row.replaced_by_id, used_at__isnull=True).exists()


def token_refresh(*, raw: str, client=NO_CLIENT) -> TokenPair:
    """Spend a refresh token and issue the next pair, in one transaction.

    The token row is locked (SELECT ... FOR UPDATE), so concurrent refreshes of one token
    give exactly one success. A spent token is reuse: the whole session is revoked,
    except for the immediately previous token inside the grace window (token_rotated).
    """
    claims = tokens.token_decode(raw=raw, token_class=tokens.RefreshToken)
    error = None
    with transaction.atomic():
        now = timezone.now()
        row = (
            RefreshToken.objects.select_for_update(of=("self",))
            .select_related("session", "session__user")
            .filter(jti=claims["jti"])
            .first()
        )
        session = row.session if row is not None else None
        if (
            row is None
            or str(row.session_id) != str(claims["sid"])
            or str(session.user_id) != str(claims["user_id"])
            or not session.is_active(now)
            or not session.user.is_active
            or row.expires_at <= now
        ):
            error = TokenInvalid()
        elif row.used_at is not None:
            if _refresh_grace(row, now):
                event(Kind.REFRESH_ROTATED, client=client, user=session.user, session_id=session.pk)
                error = TokenRotated()
            else:
                sessions_revoke_ids(ids=[session.pk], reason="refresh_token_reuse", now=now)
                event(
                    Kind.REFRESH_REUSE,
                    client=client,
                    user=session.user,
                    session_id=session.pk,
                    jti=row.jti,
                )
                error = TokenReused()
        else:
            pair, new_row = _pair_issue(session=session, user=session.user, now=now)
            row.used_at = now
            row.replaced_by = new_row
            row.save(update_fields=["used_at", "replaced_by"])
            Session.objects.filter(pk=session.pk).update(last_seen_at=now)
            event(Kind.REFRESH, client=client, user=session.user, session_id=session.pk)
    if error is not None:  # raised after commit: a reuse revocation must stick
        raise error
    return pair
