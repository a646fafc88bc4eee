"""Six-digit email codes: what a mobile app asks for instead of opening an emailed link.

Every verification and password-reset email carries a code beside its link. A code is
one-time (the first right answer deletes it), short-lived (EMAIL_CODE_MINUTES), worn out
after EMAIL_CODE_MAX_ATTEMPTS wrong tries, and every wrong try counts as a failure in the
per-email login lockout, so guessing is bounded by both: while the email is locked out,
codes answer 429 `too_many_attempts` like the login does.

Codes live in the cache (only their HMAC; a new email replaces the last code). A cache that
loses one costs the user a new email, nothing else.
"""

import hashlib
import hmac
import secrets

from django.conf import settings
from django.core.cache import cache

from .errors import InvalidCode, TooManyAttempts
from .models import User, email_normalize
from .services.lockout import lockout_failure_record, lockout_retry_after

PURPOSES = ("verify", "reset")
DIGITS = 6


def _keys(purpose: str, user_id: int) -> tuple[str, str]:
    return f"accounts:code:{purpose}:{user_id}", f"accounts:code:tries:{purpose}:{user_id}"


def _digest(purpose: str, user_id: int, code: str) -> str:
    message = f"{purpose}:{user_id}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


def code_issue(*, purpose: str, user: User) -> str:
    """Make a new code for the user and purpose (the previous one stops working)."""
    if purpose not in PURPOSES:
        raise ValueError(purpose)
    code = f"{secrets.randbelow(10**DIGITS):0{DIGITS}d}"
    code_key, tries_key = _keys(purpose, user.pk)
    timeout = settings.EMAIL_CODE_MINUTES * 60
    cache.set(code_key, _digest(purpose, user.pk, code), timeout=timeout)
    cache.set(tries_key, 0, timeout=timeout)
    return code


def _try_count(tries_key: str) -> int:
    try:
        return cache.incr(tries_key)
    except ValueError:  # expired with its code
        return settings.EMAIL_CODE_MAX_ATTEMPTS + 1


def code_redeem(*, purpose: str, email: str, code: str, users=None) -> User:
    """Return the user whose code this is, spending the code; raise InvalidCode otherwise.

    `users` narrows who may redeem (e.g. unverified accounts only). Unknown emails answer
    exactly like wrong codes, and count in the lockout the same way.
    """
    email = email_normalize(email)
    retry_after = lockout_retry_after(email=email)
    if retry_after:
        raise TooManyAttempts(retry_after)
    users = users if users is not None else User.objects.all()
    user = users.filter(email=email, is_active=True).first()
    code_key, tries_key = _keys(purpose, user.pk if user else 0)
    expected = cache.get(code_key) if user else None
    if expected is not None and _try_count(tries_key) > settings.EMAIL_CODE_MAX_ATTEMPTS:
        cache.delete(code_key)  # worn out: only a new email helps now
        expected = None
    given = str(code or "")
    right = expected is not None and hmac.compare_digest(expected, _digest(purpose, user.pk, given))
    # The first right answer deletes the code; a concurrent second one finds nothing to delete.
    if not right or not cache.delete(code_key):
        lockout_failure_record(email)
        raise InvalidCode()
    cache.delete(tries_key)
    return user
