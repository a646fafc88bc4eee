"""The one answer to "which address did this request come from?".

Behind a load balancer `REMOTE_ADDR` is the balancer, and `X-Forwarded-For` is whatever the
client chose to send plus what each proxy appended. Only the hops added by proxies we run can
be believed, so the client address is read from the right of that header, past our proxies:

- `TRUSTED_PROXY_COUNT = N`: exactly N proxies stand in front of the app; the client is the
  address the outermost of them saw.
- `TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8", ...]`: every hop inside these networks is one of
  ours; the client is the right-most address outside them.
- Neither (the default): no proxy is trusted and the header is ignored.

Every caller (throttles, sessions, the auth log, fraud rules) uses `client_ip`; views hand
the services a `Client` built by `client_from_request`, so services never read a request.
"""

import ipaddress
from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings


def _ip(value: str | None) -> str | None:
    """Return the address in canonical form, or None if it is not an IP address."""
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # [v6]:port
        value = value[1 : value.index("]")]
    elif value.count(":") == 1:  # v4:port
        value = value.split(":", 1)[0]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


@lru_cache(maxsize=8)
def _networks(spec: tuple[str, ...]) -> tuple:
    return tuple(ipaddress.ip_network(net, strict=False) for net in spec)


def _trusted(address: str, networks) -> bool:
    ip = ipaddress.ip_address(address)
    return any(ip in net for net in networks)


def client_ip(request) -> str | None:
    """Return the client's IP address for this request, or None if it cannot be known."""
    meta = request.META
    remote = _ip(meta.get("REMOTE_ADDR"))
    count = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0) or 0)
    networks = _networks(tuple(getattr(settings, "TRUSTED_PROXY_NETWORKS", ()) or ()))
    if remote is None or not (count or networks):
        return remote
    forwarded = [part for part in meta.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
    hops = [*forwarded, remote]  # nearest last
    if count:
        if len(hops) <= count:
            return _ip(hops[0]) or remote
        return _ip(hops[-(count + 1)]) or remote
    if not _trusted(remote, networks):
        return remote  # the request did not come through one of our proxies
    nearest_trusted = remote
    for hop in reversed(forwarded):
        address = _ip(hop)
        if address is None:
            return nearest_trusted  # garbage left of our proxies: the client sent it
        if not _trusted(address, networks):
            return address
        nearest_trusted = address
    return nearest_trusted


def user_agent(request) -> str:
    """Return the request's User-Agent, cut to what we store."""
    return (request.META.get("HTTP_USER_AGENT") or "")[:512]


@dataclass(frozen=True)
class Client:
    """Where a request came from, for sessions and the audit log."""

    ip_address: str | None = None
    user_agent: str = ""


NO_CLIENT = Client()


def client_from_request(request) -> Client:
    """Return the Client of a Django or DRF request."""
    return Client(ip_address=client_ip(request), user_agent=user_agent(request))
