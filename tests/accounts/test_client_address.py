"""One client address for throttles, sessions, the auth log and fraud rules."""

import pytest
from django.test import RequestFactory

from accounts.client import client_ip

rf = RequestFactory()


def request(remote="10.0.0.5", forwarded=None):
    meta = {"REMOTE_ADDR": remote}
    if forwarded is not None:
        meta["HTTP_X_FORWARDED_FOR"] = forwarded
    return rf.get("/", **meta)


def test_without_trusted_proxies_the_forwarded_header_is_ignored(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXY_NETWORKS = []
    assert client_ip(request("203.0.113.9", "1.2.3.4")) == "203.0.113.9"


@pytest.mark.parametrize(
    ("count", "forwarded", "expected"),
    [
        (1, "198.51.100.7", "198.51.100.7"),
        (1, "6.6.6.6, 198.51.100.7", "198.51.100.7"),  # the client forged the left hop
        (2, "6.6.6.6, 198.51.100.7, 10.0.0.2", "198.51.100.7"),
        (2, "", "10.0.0.5"),  # fewer hops than proxies: the left-most there is
        (1, "not-an-ip", "10.0.0.5"),
    ],
)
def test_a_count_of_proxies_reads_that_many_hops_from_the_right(
    settings, count, forwarded, expected
):
    settings.TRUSTED_PROXY_COUNT = count
    assert client_ip(request("10.0.0.5", forwarded)) == expected


def test_trusted_networks_skip_our_own_hops_only(settings):
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
    assert client_ip(request("10.0.0.5", "6.6.6.6, 198.51.100.7, 10.1.2.3")) == "198.51.100.7"
    # A request that did not come through our proxies: its header is the client's word.
    assert client_ip(request("203.0.113.9", "198.51.100.7")) == "203.0.113.9"
    # Garbage where the client sits: the nearest address we can vouch for.
    assert client_ip(request("10.0.0.5", "junk, 10.1.2.3")) == "10.1.2.3"


def test_ipv6_and_ports_are_normalised(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    assert client_ip(request("10.0.0.5", "[2001:db8::1]:443")) == "2001:db8::1"
    assert client_ip(request("10.0.0.5", "198.51.100.7:5555")) == "198.51.100.7"


@pytest.mark.django_db
def test_rotating_x_forwarded_for_does_not_escape_the_login_throttle(settings, api_client):
    settings.TRUSTED_PROXY_COUNT = 0
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "login": "5/min"}
    original = SimpleRateThrottle.THROTTLE_RATES
    SimpleRateThrottle.THROTTLE_RATES = rates
    try:
        codes = [
            api_client.post(
                "/api/v1/auth/login/",
                {"email": f"nobody{n}@example.com", "password": "wrong-password"},
                format="json",
                HTTP_X_FORWARDED_FOR=f"198.51.100.{n}",
            ).status_code
            for n in range(8)
        ]
    finally:
        SimpleRateThrottle.THROTTLE_RATES = original
    assert codes[:5] == [401] * 5
    assert 429 in codes[5:]
