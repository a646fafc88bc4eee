"""Server-side cost of authentication: ours (session checked in Redis) vs simplejwt's stock class.

Runs on PostgreSQL + Redis (DATABASE_URL, REDIS_URL) in a throwaway test database and its
own cache key prefix, both removed at the end. Prints, in one run:

- the median time of an authenticated GET /api/v1/auth/me/ (the same view, throttles off)
  with `accounts.authentication.SessionTokenAuthentication` and with
  `rest_framework_simplejwt.authentication.JWTAuthentication`, their ratio and the
  database queries each makes, plus the authentication step alone;
- the queries and median time of a login and of a refresh.

Usage: DATABASE_URL=postgres://... REDIS_URL=redis://... python benchmarks/auth_overhead.py
"""

import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("TEST_DATABASE_NAME", "test_shop_bench_auth")
os.environ["CACHE_KEY_PREFIX"] = "bench-auth"

ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3000"))
LOGIN_ROUNDS = int(os.environ.get("BENCH_LOGIN_ROUNDS", "30"))
TARGET_RATIO = 0.8


def main() -> int:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        print("auth_overhead: set DATABASE_URL to a PostgreSQL server", file=sys.stderr)
        return 2
    if not os.environ.get("REDIS_URL"):
        print("auth_overhead: set REDIS_URL to a Redis server", file=sys.stderr)
        return 2

    import django

    django.setup()
    from django.core.cache import cache
    from django.db import connection
    from django.test.utils import setup_test_environment, teardown_test_environment

    setup_test_environment()
    old_name = connection.settings_dict["NAME"]
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    try:
        return run()
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)
        cache.delete_pattern("*")
        teardown_test_environment()


def _median_ms(samples) -> float:
    return statistics.median(samples) * 1000


def _time_view(view, request_factory, *, rounds) -> tuple[float, int]:
    """Return the median milliseconds per request and the queries of one request."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    response = view(request_factory()).render()  # warm: fills the cache, opens connections
    assert response.status_code == 200, response.content
    with CaptureQueriesContext(connection) as queries:
        view(request_factory()).render()
    samples = []
    for _ in range(rounds):
        request = request_factory()
        start = time.perf_counter()
        view(request).render()
        samples.append(time.perf_counter() - start)
    return _median_ms(samples), len(queries.captured_queries)


def _time_authenticate(authenticator, request_factory, *, rounds) -> tuple[float, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.request import Request

    authenticator.authenticate(Request(request_factory()))
    with CaptureQueriesContext(connection) as queries:
        authenticator.authenticate(Request(request_factory()))
    samples = []
    for _ in range(rounds):
        request = Request(request_factory())
        start = time.perf_counter()
        authenticator.authenticate(request)
        samples.append(time.perf_counter() - start)
    return _median_ms(samples), len(queries.captured_queries)


def run() -> int:
    import json

    from django.db import connection
    from django.test import RequestFactory
    from django.test.utils import CaptureQueriesContext
    from rest_framework_simplejwt.authentication import JWTAuthentication

    from accounts.api import LoginView, MeView, RefreshView
    from accounts.authentication import SessionTokenAuthentication
    from accounts.models import User

    factory = RequestFactory()
    password = "bench-passphrase-for-auth-42"
    user = User.objects.create_user(
        email="bench@example.com", password=password, email_verified=True, first_name="Bench"
    )

    login_view = LoginView.as_view(throttle_classes=())
    refresh_view = RefreshView.as_view(throttle_classes=())

    def post(view, body):
        request = factory.post("/api/v1/auth/", json.dumps(body), content_type="application/json")
        response = view(request).render()
        assert response.status_code == 200, response.content
        return json.loads(response.content)

    # Login: credentials (Argon2id), session, first token pair, audit row.
    login_body = {"email": user.email, "password": password, "device_name": "bench"}
    with CaptureQueriesContext(connection) as login_queries:
        pair = post(login_view, login_body)
    login_samples = []
    for _ in range(LOGIN_ROUNDS):
        start = time.perf_counter()
        post(login_view, login_body)
        login_samples.append(time.perf_counter() - start)

    # Refresh: lock, spend, issue the next pair, audit row; one transaction.
    refresh = post(login_view, login_body)["refresh"]
    with CaptureQueriesContext(connection) as refresh_queries:
        refresh = post(refresh_view, {"refresh": refresh})["refresh"]
    refresh_samples = []
    for _ in range(max(LOGIN_ROUNDS, 200)):
        start = time.perf_counter()
        refresh = post(refresh_view, {"refresh": refresh})["refresh"]
        refresh_samples.append(time.perf_counter() - start)

    access = pair["access"]

    def me_request():
        return factory.get("/api/v1/auth/me/", HTTP_AUTHORIZATION=f"Bearer {access}")

    ours_view = MeView.as_view(
        authentication_classes=[SessionTokenAuthentication], throttle_classes=()
    )
    stock_view = MeView.as_view(authentication_classes=[JWTAuthentication], throttle_classes=())

    # Interleave the two so drift (CPU frequency, other load) hits both alike.
    ours_ms, stock_ms = [], []
    ours_q = stock_q = None
    for _ in range(3):
        ms, ours_q = _time_view(ours_view, me_request, rounds=ROUNDS // 3)
        ours_ms.append(ms)
        ms, stock_q = _time_view(stock_view, me_request, rounds=ROUNDS // 3)
        stock_ms.append(ms)
    ours, stock = statistics.median(ours_ms), statistics.median(stock_ms)

    auth_ours, auth_ours_q = _time_authenticate(
        SessionTokenAuthentication(), me_request, rounds=ROUNDS
    )
    auth_stock, auth_stock_q = _time_authenticate(JWTAuthentication(), me_request, rounds=ROUNDS)

    ratio = ours / stock
    print(f"auth_overhead on {connection.vendor} + Redis, {ROUNDS} requests per variant")
    print("GET /api/v1/auth/me/ (same view, throttles off), median server-side time per request:")
    print(f"  ours  SessionTokenAuthentication  {ours:7.3f} ms   {ours_q} queries")
    print(f"  stock JWTAuthentication           {stock:7.3f} ms   {stock_q} queries")
    verdict = "meets" if ratio <= TARGET_RATIO else "MISSES"
    print(
        f"  ratio ours/stock                  {ratio:7.2f}"
        f"      ({verdict} target <= {TARGET_RATIO})"
    )
    print("authenticate() alone, median:")
    print(f"  ours  {auth_ours:7.3f} ms   {auth_ours_q} queries")
    print(f"  stock {auth_stock:7.3f} ms   {auth_stock_q} queries")
    print(f"  ratio {auth_ours / auth_stock:7.2f}")
    print(
        f"login   {len(login_queries.captured_queries)} queries, "
        f"median {_median_ms(login_samples):7.2f} ms over {LOGIN_ROUNDS} (Argon2id included)"
    )
    print(
        f"refresh {len(refresh_queries.captured_queries)} queries, "
        f"median {_median_ms(refresh_samples):7.2f} ms over {len(refresh_samples)}"
    )
    return 0 if ratio <= TARGET_RATIO and ours_q == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
