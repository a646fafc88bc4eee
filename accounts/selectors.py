"""Reads for accounts: the session check behind every authenticated request, and lists.
The session check reads Redis first: `accounts:session:<sid>` holds `{"uid", "exp"}` for
an active session and `accounts:user:<uid>` the user's snapshot (with a staff member's
permissions), both fetched in one round trip. A miss (or the `stale` marker a revocation
leaves) reads the database once and refills with `add`, so a refill never overwrites what a
revocation just wrote.
"""

import logging
import time
import uuid
from dataclasses import dataclass

from django.contrib.auth.models import Permission
from django.core.cache import cache
from django.db.models import Q, QuerySet
from django.utils import timezone

from .models import AuthEvent, Session, User

SNAPSHOT_FIELDS = (
    "id",
    "email",
    "first_name",
    "last_name",
    "is_active",
    "is_staff",
    "is_superuser",
    "email_verified",
    "date_joined",
)
SNAPSHOT_TTL = 60 * 60  # seconds; revocation and user changes clear it anyway
STALE = "stale"  # written at once on revoke: read the database, do not refill
REVOKED = "revoked"  # negative cache for a session the database says has ended
STALE_TTL = 10  # then `revoked` (written on commit) or the database takes over
SEEN_INTERVAL = 60  # last_seen_at is written at most once per this many seconds

logger = logging.getLogger(__name__)


def session_cache_key(session_id) -> str:
    return f"accounts:session:{session_id}"


def user_cache_key(user_id) -> str:
    return f"accounts:user:{user_id}"


def seen_cache_key(session_id) -> str:
    return f"accounts:seen:{session_id}"


def user_permission_names(user: User) -> list[str]:
    """Return the user's permissions (own and through groups) as sorted `app.codename`.

    Only staff permissions mean anything (`is_staff` gates every staff check), so shoppers,
    inactive users and superusers (who hold every permission) cost no query.
    """
    if not (user.is_staff and user.is_active) or user.is_superuser:
        return []
    rows = (
        Permission.objects.filter(Q(user=user) | Q(group__user=user))
        .values_list("content_type__app_label", "codename")
        .distinct()
    )
    return sorted(f"{app}.{codename}" for app, codename in rows)


def user_snapshot(user: User) -> dict:
    """The cached form of a user: the snapshot fields plus the staff permissions."""
    snapshot = {name: getattr(user, name) for name in SNAPSHOT_FIELDS}
    snapshot["perms"] = user_permission_names(user)
    return snapshot


def user_from_snapshot(snapshot: dict) -> User:
    """Build a User from its snapshot; other fields stay deferred (loaded on access).

    For staff the permissions come from the snapshot too (ModelBackend reads `_perm_cache`
    before querying), so `has_perm` in a staff endpoint costs no query.
    """
    names = [f.attname for f in User._meta.concrete_fields if f.attname in snapshot]
    user = User.from_db("default", names, [snapshot[name] for name in names])
    perms = snapshot.get("perms")
    if perms is not None and user.is_staff:
        user._perm_cache = set(perms)
    return user


@dataclass(frozen=True)
class SessionCheck:
    user: User
    seen_recently: bool


def session_check(*, session_id, user_id) -> SessionCheck | None:
    """Return the user of the session if it is active and belongs to user_id, else None."""
    try:
        session_id = str(uuid.UUID(str(session_id)))
    except ValueError:
        return None
    user_id = str(user_id)
    skey, ukey, seen_key = (
        session_cache_key(session_id),
        user_cache_key(user_id),
        seen_cache_key(session_id),
    )
    try:
        found = cache.get_many([skey, ukey, seen_key])
    except Exception as exc:  # the cache is down: the database still knows the truth
        logger.warning("session check: cache unavailable (%s); reading the database", exc)
        return _session_check_database(
            session_id=session_id, user_id=user_id, fill_session=False, fill_user=False, seen=True
        )
    cached_session, cached_user = found.get(skey), found.get(ukey)
    seen = seen_key in found
    if cached_session == REVOKED:
        return None
    if isinstance(cached_session, dict) and isinstance(cached_user, dict):
        if str(cached_session["uid"]) != user_id or cached_session["exp"] <= time.time():
            return None
        if not cached_user["is_active"]:
            return None
        return SessionCheck(user=user_from_snapshot(cached_user), seen_recently=seen)
    return _session_check_database(
        session_id=session_id,
        user_id=user_id,
        fill_session=cached_session is None,
        fill_user=cached_user is None,
        seen=seen,
    )


def _session_check_database(*, session_id, user_id, fill_session, fill_user, seen):
    now = timezone.now()
    session = (
        Session.objects.select_related("user")
        .filter(pk=session_id)
        .only("id", "user_id", "expires_at", "revoked_at", *(f"user__{f}" for f in SNAPSHOT_FIELDS))
        .first()
    )
    if session is None or not session.is_active(now):
        if session is not None and fill_session:
            cache.add(session_cache_key(session_id), REVOKED, timeout=SNAPSHOT_TTL)
        return None
    user = session.user
    if fill_session:
        remaining = int((session.expires_at - now).total_seconds())
        cache.add(
            session_cache_key(session_id),
            {"uid": user.pk, "exp": session.expires_at.timestamp()},
            timeout=max(1, min(SNAPSHOT_TTL, remaining)),
        )
    if fill_user:
        cache.add(user_cache_key(user.pk), user_snapshot(user), timeout=SNAPSHOT_TTL)
    if str(user.pk) != user_id or not user.is_active:
        return None
    return SessionCheck(user=user, seen_recently=seen)


def session_list_active(*, user) -> QuerySet[Session]:
    """Active sessions of the user, newest first."""
    return Session.objects.filter(
        user=user, revoked_at__isnull=True, expires_at__gt=timezone.now()
    ).order_by("-created_at", "-pk")


def session_get_active_for_user(*, user, session_id) -> Session | None:
    return session_list_active(user=user).filter(pk=session_id).first()


def auth_event_list(*, user=None, email: str = "") -> QuerySet[AuthEvent]:
    queryset = AuthEvent.objects.select_related("user", "session")
    if user is not None:
        queryset = queryset.filter(user=user)
    if email:
        queryset = queryset.filter(email=email)
    return queryset.order_by("-at", "-id")


SIGN_IN_KINDS = (
    AuthEvent.Kind.LOGIN,
    AuthEvent.Kind.LOGIN_FAILED,
    AuthEvent.Kind.LOGIN_LOCKED,
    AuthEvent.Kind.MFA_FAILED,
    AuthEvent.Kind.MFA_ENROLLED,
    AuthEvent.Kind.MFA_RESET,
)


def sign_in_events_for(*, user) -> QuerySet[AuthEvent]:
    """The user's own sign-ins and failed attempts (by account or by email), newest first."""
    return (
        AuthEvent.objects.filter(Q(user_id=user.pk) | Q(email=user.email), kind__in=SIGN_IN_KINDS)
        .only("at", "kind", "ip_address", "user_agent", "extra")
        .order_by("-at", "-id")
    )
