"""Sessions: opening one (API or web), touching, revoking, logging out, purging."""

from datetime import datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from .. import selectors, tokens
from ..client import NO_CLIENT
from ..errors import SessionNotFound
from ..models import AuthEvent, RefreshToken, Session, User
from .events import event
from .invalidation import sessions_cache_invalidate

Kind = AuthEvent.Kind


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


def sessions_revoke_ids(*, ids, reason: str, now: datetime | None = None) -> int:
    ids = list(ids)
    if not ids:
        return 0
    updated = Session.objects.filter(pk__in=ids, revoked_at__isnull=True).update(
        revoked_at=now or timezone.now(), revoke_reason=reason[:40]
    )
    sessions_cache_invalidate(ids)
    return updated


@transaction.atomic
def session_revoke(
    *, session_id, reason: str, client=NO_CLIENT, actor=None, kind=Kind.SESSION_REVOKED
) -> bool:
    """End one session; return False if it had already ended."""
    session = Session.objects.filter(pk=session_id).select_related("user").first()
    if session is None:
        return False
    revoked = bool(sessions_revoke_ids(ids=[session.pk], reason=reason))
    if revoked:
        extra = {"reason": reason}
        if actor is not None:
            extra["actor"] = actor.pk
        event(kind, client=client, user=session.user, session_id=session.pk, **extra)
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
    count = sessions_revoke_ids(ids=queryset.values_list("pk", flat=True), reason=reason)
    extra = {"reason": reason, "sessions": count}
    if actor is not None:
        extra["actor"] = actor.pk
    event(kind, client=client, user=user, session_id=except_session_id, **extra)
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


def web_session_start(*, user, client=NO_CLIENT, via: str = "web", **extra) -> Session:
    """Open the device Session of a web (Django session) login: the shop or the admin."""
    with transaction.atomic():
        session = session_create(
            user=user,
            kind=Session.Kind.WEB,
            client=client,
            device_name="Admin" if via == "admin" else "Web browser",
        )
        event(Kind.LOGIN, client=client, user=user, session_id=session.pk, via=via, **extra)
    return session


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
