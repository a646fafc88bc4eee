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
