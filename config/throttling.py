"""The API's throttles (keyed on the client address by accounts), letting requests through
while the cache (Redis) is unreachable.

A throttle is a guard against abuse, not a reason to refuse every request while Redis
restarts: when the counters cannot be read or written the request is allowed and a warning
logged; counting resumes as soon as Redis answers. (Authentication falls back to the
database the same way; revocations do not: they fail rather than leave a stale snapshot.)
"""

import logging

from accounts import throttling

logger = logging.getLogger(__name__)

try:  # django-redis raises the client's errors
    from redis.exceptions import ConnectionError as RedisConnectionError
    from redis.exceptions import TimeoutError as RedisTimeoutError

    CACHE_ERRORS: tuple[type[BaseException], ...] = (
        RedisConnectionError,
        RedisTimeoutError,
        ConnectionError,
        TimeoutError,
    )
except ImportError:  # pragma: no cover - redis is a dependency
    CACHE_ERRORS = (ConnectionError, TimeoutError)


class FailOpenMixin:
    def allow_request(self, request, view):
        try:
            return super().allow_request(request, view)
        except CACHE_ERRORS as exc:
            logger.warning(
                "throttle %s: cache unavailable (%s); request let through",
                self.__class__.__name__,
                exc.__class__.__name__,
            )
            return True


class AnonRateThrottle(FailOpenMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(FailOpenMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(FailOpenMixin, throttling.ScopedRateThrottle):
    pass
