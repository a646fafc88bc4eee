"""DRF throttles keyed on the one client address (`accounts.client.client_ip`).

DRF's own `get_ident` believes `X-Forwarded-For` unless `NUM_PROXIES` is set, so a client
could rotate that header to escape every limit. These classes use the trusted-proxy rule.
"""

from rest_framework import throttling

from .client import client_ip


class ClientAddressMixin:
    def get_ident(self, request):
        return client_ip(request) or "unknown"


class AnonRateThrottle(ClientAddressMixin, throttling.AnonRateThrottle):
    pass


class UserRateThrottle(ClientAddressMixin, throttling.UserRateThrottle):
    pass


class ScopedRateThrottle(ClientAddressMixin, throttling.ScopedRateThrottle):
    pass


def login_throttle_wait(request) -> int | None:
    """Count one sign-in attempt from the request's address under the API's "login" rate.

    The shop's login page and the admin call this, sharing the API's budget (same cache
    key), so one address gets one allowance whichever door it knocks on. Return the
    seconds to wait when over it, else None.
    """
    import math
    from types import SimpleNamespace

    throttle = ScopedRateThrottle()
    if throttle.allow_request(request, SimpleNamespace(throttle_scope="login")):
        return None
    return max(1, math.ceil(throttle.wait() or 1))
