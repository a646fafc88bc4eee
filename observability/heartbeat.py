"""The beat's heartbeat: a timestamp the beat's own schedule writes, read by /healthz."""

import time

from django.conf import settings
from django.core.cache import cache

HEARTBEAT_KEY = "observability:beat-heartbeat"


def beat_heartbeat_write() -> float:
    now = time.time()
    # Kept well past the staleness limit so a dead beat reads as stale, not as never seen.
    cache.set(HEARTBEAT_KEY, now, timeout=max(settings.HEALTHZ_BEAT_MAX_AGE_SECONDS * 10, 3600))
    return now


def beat_heartbeat_age() -> float | None:
    """Seconds since the beat last wrote, or None when it never did (or the cache lost it)."""
    last = cache.get(HEARTBEAT_KEY)
    if last is None:
        return None
    return max(0.0, time.time() - float(last))
