"""Did this request come through one of our proxies? (for headers only a proxy may set)

The same settings as the client address (`accounts.client.client_ip`): with
`TRUSTED_PROXY_NETWORKS` set, the peer must be inside one of them; with only
`TRUSTED_PROXY_COUNT` set, every request is taken to come through the proxies (the app is
reachable only behind them). With neither, no request did.
"""

import ipaddress
from functools import lru_cache

from django.conf import settings


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]):
    return tuple(ipaddress.ip_network(cidr, strict=False) for cidr in cidrs)


def came_through_trusted_proxy(request) -> bool:
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXY_NETWORKS", ()) or ()))
    if networks:
        try:
            peer = ipaddress.ip_address(request.META.get("REMOTE_ADDR", ""))
        except ValueError:
            return False
        return any(peer in network for network in networks)
    return int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0) > 0
