"""Lockout: a cache counter per email, whether or not the account exists."""

import hashlib
import math
import time

from django.conf import settings
from django.core.cache import cache

from ..models import email_normalize


def lockout_keys(email: str) -> tuple[str, str]:
    digest = hashlib.sha256(email_normalize(email).encode()).hexdigest()[:40]
    return f"accounts:lockout:fails:{digest}", f"accounts:lockout:until:{digest}"


def lockout_retry_after(*, email: str) -> int:
    """Return the seconds left in the lockout of this email, 0 when it is not locked."""
    _, until_key = lockout_keys(email)
    until = cache.get(until_key)
    if until is None:
        return 0
    return max(0, math.ceil(until - time.time()))


def lockout_failure_record(email: str) -> int:
    fails_key, until_key = lockout_keys(email)
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
    cache.delete_many(list(lockout_keys(email)))
