"""Writes for accounts: registration, login, token rotation, revocation and passwords.

Revocation writes a `stale` marker over the session's cache entry at once (and `revoked`
on commit), so the next request with that session's access token is refused; see
selectors.session_check.
"""

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import password_validation
from django.contrib.auth.hashers import make_password
from django.contrib.auth.tokens import default_token_generator
from django.core.cache import cache
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.encoding import force_bytes, force_str
from django.utils.http import urlsafe_base64_decode, urlsafe_base64_encode

from outbox.services import task_enqueue

from . import selectors, tokens
from .client import client_ip, user_agent
from .errors import (
    EmailNotVerified,
    InvalidCredentials,
    InvalidToken,
    SessionNotFound,
    TokenInvalid,
    TokenReused,
    TokenRotated,
    TooManyAttempts,
)
from .models import AuthEvent, RefreshToken, Session, User, email_normalize

Kind = AuthEvent.Kind


# ------------------------------------------------------------------------------
# Request context and audit log
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class Client:
    """Where a request came from, for sessions and the audit log."""

    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request) -> "Client":
        return cls(ip_address=client_ip(request), user_agent=user_agent(request))


NO_CLIENT = Client()


def _event(kind, *, client: Client, user=None, email: str = "", session_id=None, **extra):
    AuthEvent.objects.create(
        kind=kind,
        user_id=getattr(user, "pk", None),
        email=(email or getattr(user, "email", "") or "")[:254],
        session_id=session_id,
        ip_address=client.ip_address,
        user_agent=client.user_agent[:512],
        extra=extra,
    )


def _on_commit_delay(task_name: str, *args) -> None:
    task_enqueue(f"accounts.tasks.{task_name}", *args)


# ------------------------------------------------------------------------------
# Cache invalidation
# ------------------------------------------------------------------------------
def user_cache_invalidate(*, user_id) -> None:
    """Forget the user's cached snapshot now; once committed, cache the saved row.

    Writing the committed row (rather than only deleting) overwrites a refill that a
    concurrent request may have made from the pre-commit row.
    """
    key = selectors.user_cache_key(user_id)
    cache.delete(key)

    def refill():
        user = User.objects.filter(pk=user_id).only(*selectors.SNAPSHOT_FIELDS).first()
        if user is None:
            cache.delete(key)
        else:
            cache.set(key, selectors.user_snapshot(user), timeout=selectors.SNAPSHOT_TTL)

    transaction.on_commit(refill)


def _sessions_cache_invalidate(session_ids) -> None:
    """Cut the sessions off at once; once committed, cache them as revoked.

    The `stale` marker written now sends readers to the database; the `revoked` written
    after the commit overwrites any refill made from the pre-commit row.
    """
    keys = [selectors.session_cache_key(sid) for sid in session_ids]
    if not keys:
        return
    cache.set_many(dict.fromkeys(keys, selectors.STALE), timeout=selectors.STALE_TTL)
    revoked = dict.fromkeys(keys, selectors.REVOKED)
    transaction.on_commit(lambda: cache.set_many(revoked, timeout=selectors.SNAPSHOT_TTL))


# ------------------------------------------------------------------------------
# Lockout: a cache counter per email, whether or not the account exists
# ------------------------------------------------------------------------------
def _lockout_keys(email: str) -> tuple[str, str]:
    digest = hashlib.sha256(email_normalize(email).encode()).hexdigest()[:40]
    return f"accounts:lockout:fails:{digest}", f"accounts:lockout:until:{digest}"


def lockout_retry_after(*, email: str) -> int:
    """Return the seconds left in the lockout of this email, 0 when it is not locked."""
    _, until_key = _lockout_keys(email)
    until = cache.get(until_key)
    if until is None:
        return 0
    return max(0, math.ceil(until - time.time()))


def _lockout_failure_record(email: str) -> int:
    fails_key, until_key = _lockout_keys(email)
    window = int(settings.LOGIN_LOCKOUT_WINDOW.total_seconds())
    cache.add(fails_key, 0, timeout=window)
    try:
        count = cache.incr(fails_key)
    except ValueError:  # expired between add and incr
        cache.set(fails_key, 1, timeout=window)
        count = 1
    if count >= settings.LOGIN_LOCKOUT_FAILURES:
        cache.set(until_key, time.time() + window, timeout=window)
        cache.delete(fails_key)
    return count


def lockout_clear(*, email: str) -> None:
    cache.delete_many(list(_lockout_keys(email)))


# ------------------------------------------------------------------------------
# Registration and email verification
# ------------------------------------------------------------------------------
def _password_validate(password: str, user: User, *, field: str) -> None:
    try:
        password_validation.validate_password(password, user)
    except ValidationError as exc:
        raise ValidationError({field: exc.error_list}) from exc


def user_register(
    *, email: str, password: str, first_name: str = "", last_name: str = "", client=NO_CLIENT
) -> None:
    """Create an unverified account and mail a verification link.

    A taken email gets the same answer (no enumeration): its owner is mailed instead, and
    the password is hashed anyway so both paths take about the same time.
    """
    email = email_normalize(email)
    candidate = User(email=email, first_name=first_name, last_name=last_name)
    _password_validate(password, candidate, field="password")
    existing = User.objects.filter(email=email).first()
    if existing is None:
        candidate.set_password(password)
        try:
            with transaction.atomic():
                candidate.save()
                _event(Kind.REGISTER, client=client, user=candidate)
                _on_commit_delay("email_verification_send", candidate.pk)
            return
        except IntegrityError:  # registered concurrently
            existing = User.objects.filter(email=email).first()
    else:
        make_password(password)
    with transaction.atomic():
        _event(Kind.REGISTER_EXISTING, client=client, user=existing, email=email)
        if existing is not None:
            _on_commit_delay("email_account_exists_send", existing.pk)


def _uidb64(user: User) -> str:
    return urlsafe_base64_encode(force_bytes(user.pk))


def _user_from_uidb64(uidb64: str) -> User | None:
    try:
        pk = int(force_str(urlsafe_base64_decode(uidb64)))
    except (TypeError, ValueError, OverflowError, UnicodeDecodeError):
        return None
    return User.objects.filter(pk=pk).first()


def email_verification_token_make(*, user: User) -> str:
    """Return the token of the verification link: `<uidb64>.<timestamp>-<hash>`."""
    return f"{_uidb64(user)}.{tokens.email_verification_token.make_token(user)}"


@transaction.atomic
def email_verify(*, token: str, client=NO_CLIENT) -> User:
    """Mark the email of the token's user verified; the token then stops working."""
    uidb64, _, user_token = (token or "").partition(".")
    user = _user_from_uidb64(uidb64) if user_token else None
    if user is None or not tokens.email_verification_token.check_token(user, user_token):
        raise InvalidToken()
    user.email_verified = True
    user.save(update_fields=["email_verified"])
    _event(Kind.EMAIL_VERIFIED, client=client, user=user)
    return user


@transaction.atomic
def verification_resend(*, email: str, client=NO_CLIENT) -> None:
    """Mail a new verification link if the email belongs to an unverified account."""
    user = User.objects.filter(
        email=email_normalize(email), is_active=True, email_verified=False
    ).first()
    if user is not None:
        _event(Kind.VERIFICATION_SENT, client=client, user=user)
        _on_commit_delay("email_verification_send", user.pk)


def _mail(*, user: User, subject: str, template: str, context: dict) -> None:
    body = render_to_string(
        template,
        {"user": user, "site_url": settings.SITE_URL, "shop_name": settings.SHOP_NAME, **context},
    )
    send_mail(f"{settings.SHOP_NAME}: {subject}", body, None, [user.email])


def verification_email_send(*, user_id: int) -> bool:
    """Send the verification link; False when the account is gone or already verified."""
    user = User.objects.filter(pk=user_id, is_active=True, email_verified=False).first()
    if user is None:
        return False
    link = f"{settings.SITE_URL}/account/verify/{email_verification_token_make(user=user)}/"
    _mail(
        user=user,
        subject="confirm your email address",
        template="accounts/email/verification.txt",
        context={"link": link, "hours": settings.EMAIL_VERIFICATION_TIMEOUT // 3600},
    )
    return True


def account_exists_email_send(*, user_id: int) -> bool:
    """Tell the owner of an email that someone tried to register it again."""
    user = User.objects.filter(pk=user_id).first()
    if user is None:
        return False
    _mail(
        user=user,
        subject="you already have an account",
        template="accounts/email/account_exists.txt",
        context={"login_url": f"{settings.SITE_URL}/account/login/"},
    )
    return True


def password_reset_email_send(*, user_id: int) -> bool:
    user = User.objects.filter(pk=user_id, is_active=True).first()
    if user is None:
        return False
    token = default_token_generator.make_token(user)
    _mail(
        user=user,
        subject="reset your password",
        template="accounts/email/password_reset.txt",
        context={
            "link": f"{settings.SITE_URL}/account/reset/{_uidb64(user)}/{token}/",
            "uid": _uidb64(user),
            "token": token,
            "hours": settings.PASSWORD_RESET_TIMEOUT // 3600,
        },
    )
    return True


# ------------------------------------------------------------------------------
# Login, sessions and tokens
# ------------------------------------------------------------------------------
@dataclass(frozen=True)
class TokenPair:
    access: str
    refresh: str
    session_id: str
    access_expires_at: datetime
    refresh_expires_at: datetime
    user: User


def login_credentials_check(*, email: str, password: str, client=NO_CLIENT) -> User:
    """Return the user the credentials belong to, or raise.

    Unknown email, wrong password and inactive account all raise InvalidCredentials after
    one password hash, so the answer and its time do not tell them apart. The lockout
    counts failures per email whether or not the account exists.
    """
    email = email_normalize(email)
    retry_after = lockout_retry_after(email=email)
    if retry_after:
        _event(Kind.LOGIN_LOCKED, client=client, email=email)
        raise TooManyAttempts(retry_after)
    user = User.objects.filter(email=email).first()
    if user is None:
        make_password(password)
        valid = False
    else:
        valid = user.check_password(password) and user.is_active
    if not valid:
        failures = _lockout_failure_record(email)
        _event(Kind.LOGIN_FAILED, client=client, user=user, email=email, failures=failures)
        raise InvalidCredentials()
    if not user.email_verified:
        _event(Kind.LOGIN_UNVERIFIED, client=client, user=user)
        raise EmailNotVerified()
    lockout_clear(email=email)
    return user


def _platform_guess(user_agent: str) -> str:
    ua = user_agent.lower()
    for needle, name in (
        ("android", "Android"),
        ("iphone", "iOS"),
        ("ipad", "iOS"),
        ("windows", "Windows"),
        ("mac os", "macOS"),
        ("linux", "Linux"),
    ):
        if needle in ua:
            return name
    return ""


def session_create(
    *, user: User, kind: str, client=NO_CLIENT, device_name: str = "", platform: str = ""
) -> Session:
    now = timezone.now()
    session = Session.objects.create(
        user=user,
        kind=kind,
        device_name=(device_name or "").strip()[:120],
        platform=((platform or "").strip() or _platform_guess(client.user_agent))[:60],
        user_agent=client.user_agent[:512],
        ip_address=client.ip_address,
        created_at=now,
        last_seen_at=now,
        expires_at=now + settings.SESSION_ABSOLUTE_LIFETIME,
    )
    # Warm the cache now (not on commit) so the first request after login needs no query;
    # if this transaction rolls back, no token or cookie for the session ever leaves.
    ttl = selectors.SNAPSHOT_TTL
    cache.add(
        selectors.session_cache_key(session.pk),
        {"uid": user.pk, "exp": session.expires_at.timestamp()},
        timeout=ttl,
    )
    cache.add(selectors.user_cache_key(user.pk), selectors.user_snapshot(user), timeout=ttl)
    cache.set(selectors.seen_cache_key(session.pk), 1, timeout=selectors.SEEN_INTERVAL)
    return session


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
) -> TokenPair:
    """Check the credentials and open an API session with its first token pair."""
    user = login_credentials_check(email=email, password=password, client=client)
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
        _event(Kind.LOGIN, client=client, user=user, session_id=session.pk)
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
                _event(
                    Kind.REFRESH_ROTATED, client=client, user=session.user, session_id=session.pk
                )
                error = TokenRotated()
            else:
                _sessions_revoke(ids=[session.pk], reason="refresh_token_reuse", now=now)
                _event(
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
            _event(Kind.REFRESH, client=client, user=session.user, session_id=session.pk)
    if error is not None:  # raised after commit: a reuse revocation must stick
        raise error
    return pair


def _sessions_revoke(*, ids, reason: str, now: datetime | None = None) -> int:
    ids = list(ids)
    if not ids:
        return 0
    updated = Session.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now(), revoke_reason=reason[:40]
    )
    _sessions_cache_invalidate(ids)
    return updated


@transaction.atomic
def session_revoke(
    *, session_id, reason: str, client=NO_CLIENT, actor=None, kind=Kind.SESSION_REVOKED
) -> bool:
    """End one session; return False if it had already ended."""
    session = Session.objects.filter(pk=session_id).select_related("user").first()
    if session is None:
        return False
    revoked = bool(_sessions_revoke(ids=[session.pk], reason=reason))
    if revoked:
        extra = {"reason": reason}
        if actor is not None:
            extra["actor"] = actor.pk
        _event(kind, client=client, user=session.user, session_id=session.pk, **extra)
    return revoked


@transaction.atomic
def sessions_revoke_for_user(
    *,
    user,
    reason: str,
    except_session_id=None,
    client=NO_CLIENT,
    actor=None,
    kind=Kind.SESSION_REVOKED,
) -> int:
    """End every active session of the user (but except_session_id); return how many."""
    queryset = Session.objects.filter(user_id=user.pk, revoked_at__isnull=True)
    if except_session_id:
        queryset = queryset.exclude(pk=except_session_id)
    count = _sessions_revoke(ids=queryset.values_list("pk", flat=True), reason=reason)
    extra = {"reason": reason, "sessions": count}
    if actor is not None:
        extra["actor"] = actor.pk
    _event(kind, client=client, user=user, session_id=except_session_id, **extra)
    return count


def session_end_for_user(*, user, session_id, client=NO_CLIENT) -> None:
    """End one of the user's own sessions; another user's or an unknown one is not found."""
    session = selectors.session_get_active_for_user(user=user, session_id=session_id)
    if session is None:
        raise SessionNotFound()
    session_revoke(session_id=session.pk, reason="ended_by_user", client=client)


def logout(*, session_id, client=NO_CLIENT) -> None:
    session_revoke(session_id=session_id, reason="logout", client=client, kind=Kind.LOGOUT)


def logout_with_refresh(*, raw: str, client=NO_CLIENT) -> None:
    """End the session of a refresh token (a client logging out without an access token)."""
    claims = tokens.token_decode(raw=raw, token_class=tokens.RefreshToken)
    logout(session_id=claims["sid"], client=client)


def logout_all(*, user, client=NO_CLIENT) -> int:
    return sessions_revoke_for_user(
        user=user, reason="logout_all", client=client, kind=Kind.LOGOUT_ALL
    )


def session_touch(*, session_id) -> None:
    """Write last_seen_at, at most once a minute per session (gated in the cache)."""
    if cache.add(selectors.seen_cache_key(session_id), 1, timeout=selectors.SEEN_INTERVAL):
        Session.objects.filter(pk=session_id).update(last_seen_at=timezone.now())


def web_session_start(*, user, client=NO_CLIENT) -> Session:
    """Open the device Session of a web (Django session) login."""
    with transaction.atomic():
        session = session_create(
            user=user, kind=Session.Kind.WEB, client=client, device_name="Web browser"
        )
        _event(Kind.LOGIN, client=client, user=user, session_id=session.pk, via="web")
    return session


# ------------------------------------------------------------------------------
# Passwords and the account
# ------------------------------------------------------------------------------
def password_change(
    *, user, old_password: str, new_password: str, keep_session_id=None, client=NO_CLIENT
) -> User:
    """Change the password and end every other session of the user."""
    user = User.objects.get(pk=user.pk)  # the request's user may be a cache snapshot
    if not user.check_password(old_password):
        raise ValidationError(
            {
                "old_password": [
                    ValidationError(
                        "Your current password was entered incorrectly.",
                        code="password_incorrect",
                    )
                ]
            }
        )
    _password_validate(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.save(update_fields=["password"])
        sessions_revoke_for_user(
            user=user,
            reason="password_change",
            except_session_id=keep_session_id,
            client=client,
            kind=Kind.PASSWORD_CHANGE,
        )
    return user


@transaction.atomic
def password_reset_request(*, email: str, client=NO_CLIENT) -> None:
    """Mail a reset link if the email belongs to an active account; silent otherwise."""
    email = email_normalize(email)
    user = User.objects.filter(email=email, is_active=True).first()
    _event(Kind.PASSWORD_RESET_REQUEST, client=client, user=user, email=email)
    if user is not None:
        _on_commit_delay("email_password_reset_send", user.pk)


def password_reset_user(*, uidb64: str, token: str) -> User | None:
    """Return the user of a valid reset link, or None."""
    user = _user_from_uidb64(uidb64)
    if user is None or not user.is_active or not default_token_generator.check_token(user, token):
        return None
    return user


def password_reset_confirm(*, uidb64: str, token: str, new_password: str, client=NO_CLIENT) -> User:
    """Set a new password from a reset link: every session ends, a lockout is lifted."""
    user = password_reset_user(uidb64=uidb64, token=token)
    if user is None:
        raise InvalidToken()
    _password_validate(new_password, user, field="new_password")
    with transaction.atomic():
        user.set_password(new_password)
        user.email_verified = True  # the link reached the mailbox
        user.save(update_fields=["password", "email_verified"])
        sessions_revoke_for_user(
            user=user, reason="password_reset", client=client, kind=Kind.PASSWORD_RESET
        )
    lockout_clear(email=user.email)
    return user


@transaction.atomic
def user_profile_update(*, user, **fields) -> User:
    user = User.objects.select_for_update().get(pk=user.pk)
    changed = [name for name in ("first_name", "last_name") if name in fields]
    for name in changed:
        setattr(user, name, fields[name])
    if changed:
        user.full_clean(validate_unique=False, validate_constraints=False)
        user.save(update_fields=changed)
    return user


@transaction.atomic
def user_deactivate(*, user, actor=None, client=NO_CLIENT) -> int:
    """Deactivate the account and end all its sessions; return how many ended."""
    User.objects.filter(pk=user.pk).update(is_active=False)
    user_cache_invalidate(user_id=user.pk)
    return sessions_revoke_for_user(
        user=user, reason="user_deactivated", client=client, actor=actor, kind=Kind.USER_DEACTIVATED
    )


# ------------------------------------------------------------------------------
# Housekeeping
# ------------------------------------------------------------------------------
@transaction.atomic
def sessions_purge(*, now: datetime | None = None) -> dict:
    """Delete expired refresh-token rows and sessions ended before the retention period."""
    now = now or timezone.now()
    cutoff = now - timedelta(days=settings.SESSION_RETENTION_DAYS)
    _, tokens_by_model = RefreshToken.objects.filter(expires_at__lte=now).delete()
    _, by_model = Session.objects.filter(
        Q(revoked_at__lt=cutoff) | Q(expires_at__lt=cutoff)
    ).delete()
    return {
        "refresh_tokens": tokens_by_model.get(RefreshToken._meta.label, 0)
        + by_model.get(RefreshToken._meta.label, 0),
        "sessions": by_model.get(Session._meta.label, 0),
    }
