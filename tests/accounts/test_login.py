import time

import jwt
import pytest
from django.conf import settings
from rest_framework.test import APIClient

from accounts.models import AuthEvent, Session
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import LOGIN_URL, ME_URL, bearer

pytestmark = pytest.mark.django_db


def _login(email, password, **extra):
    return APIClient().post(
        LOGIN_URL, {"email": email, "password": password, **extra}, format="json"
    )


def test_login_returns_token_pair_session_and_user():
    user = UserFactory()
    response = _login(
        user.email.upper(), DEFAULT_PASSWORD, device_name="Pixel 9", platform="Android"
    )
    assert response.status_code == 200
    body = response.json()
    assert set(body) == {
        "access",
        "refresh",
        "session_id",
        "access_expires_at",
        "refresh_expires_at",
        "expires_in",
        "refresh_expires_in",
        "user",
    }
    # Lifetimes relative to now, for devices whose clock is wrong (15 min, 7 days).
    assert 15 * 60 - 5 <= body["expires_in"] <= 15 * 60
    assert 7 * 86400 - 5 <= body["refresh_expires_in"] <= 7 * 86400
    assert body["user"]["email"] == user.email
    session = Session.objects.get(pk=body["session_id"])
    assert (session.user, session.device_name, session.platform) == (user, "Pixel 9", "Android")
    assert AuthEvent.objects.filter(kind="login", user=user, session=session).exists()


def test_tokens_carry_session_type_issuer_and_audience():
    user = UserFactory()
    body = _login(user.email, DEFAULT_PASSWORD).json()
    for raw, kind in ((body["access"], "access"), (body["refresh"], "refresh")):
        header = jwt.get_unverified_header(raw)
        claims = jwt.decode(raw, options={"verify_signature": False})
        assert header["alg"] == "HS256"
        assert claims["type"] == kind
        assert claims["sid"] == body["session_id"]
        assert claims["user_id"] == str(user.pk) == claims["sub"]
        assert claims["iss"] == settings.SIMPLE_JWT["ISSUER"]
        assert claims["aud"] == settings.SIMPLE_JWT["AUDIENCE"]
        assert claims["jti"] and claims["exp"] > claims["iat"]
    access = jwt.decode(body["access"], options={"verify_signature": False})
    assert access["exp"] - access["iat"] == 15 * 60


def test_access_token_opens_me():
    user = UserFactory()
    body = _login(user.email, DEFAULT_PASSWORD).json()
    response = bearer(body["access"]).get(ME_URL)
    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_wrong_password_and_unknown_email_look_the_same():
    user = UserFactory()
    wrong_password = _login(user.email, "not-the-password")
    unknown_email = _login("nobody@example.com", "not-the-password")
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.json() == unknown_email.json()
    assert wrong_password.json()["code"] == "invalid_credentials"


def test_unknown_email_takes_about_as_long_as_a_wrong_password(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.Argon2PasswordHasher"]
    user = UserFactory()

    def timed(email):
        start = time.perf_counter()
        _login(email, "not-the-password")
        return time.perf_counter() - start

    timed(user.email)  # warm up
    known = min(timed(user.email) for _ in range(3))
    unknown = min(timed(f"nobody{n}@example.com") for n in range(3))
    # Both run one Argon2 hash; without it the unknown email would be many times faster.
    assert unknown > known * 0.5


def test_inactive_user_gets_invalid_credentials():
    user = UserFactory(is_active=False)
    response = _login(user.email, DEFAULT_PASSWORD)
    assert (response.status_code, response.json()["code"]) == (401, "invalid_credentials")


def test_unverified_email_is_refused_only_with_the_right_password():
    user = UserFactory(email_verified=False)
    right = _login(user.email, DEFAULT_PASSWORD)
    assert (right.status_code, right.json()["code"]) == (403, "email_not_verified")
    wrong = _login(user.email, "not-the-password")
    assert (wrong.status_code, wrong.json()["code"]) == (401, "invalid_credentials")


@pytest.mark.parametrize("exists", [True, False], ids=["existing", "unknown"])
def test_five_failures_lock_the_email_for_fifteen_minutes(exists):
    email = UserFactory().email if exists else "ghost@example.com"
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        assert _login(email, "wrong").status_code == 401
    locked = _login(email, DEFAULT_PASSWORD)
    assert locked.status_code == 429
    assert locked.json()["code"] == "too_many_attempts"
    assert 14 * 60 < int(locked["Retry-After"]) <= 15 * 60
    assert AuthEvent.objects.filter(kind="login_locked", email=email).exists()


def test_lockout_is_per_email_not_per_client():
    locked, other = UserFactory(), UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        _login(locked.email, "wrong")
    assert _login(locked.email, DEFAULT_PASSWORD).status_code == 429
    assert _login(other.email, DEFAULT_PASSWORD).status_code == 200


def test_a_successful_login_clears_the_failure_count():
    user = UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _login(user.email, "wrong")
    assert _login(user.email, DEFAULT_PASSWORD).status_code == 200
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES - 1):
        _login(user.email, "wrong")
    assert _login(user.email, DEFAULT_PASSWORD).status_code == 200


def test_login_failures_are_logged():
    _login("ghost@example.com", "wrong")
    event = AuthEvent.objects.get(kind="login_failed")
    assert event.email == "ghost@example.com" and event.user is None
    assert event.ip_address == "127.0.0.1"


def test_login_is_throttled(monkeypatch):
    from rest_framework.throttling import SimpleRateThrottle

    rates = {**SimpleRateThrottle.THROTTLE_RATES, "login": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    codes = [_login(f"u{n}@example.com", "x").status_code for n in range(4)]
    assert codes == [401, 401, 401, 429]


def test_lockout_ends_by_itself_after_its_window(settings):
    from datetime import timedelta

    settings.LOGIN_LOCKOUT_WINDOW = timedelta(seconds=1)
    user = UserFactory()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        _login(user.email, "wrong")
    assert _login(user.email, DEFAULT_PASSWORD).status_code == 429
    time.sleep(1.1)
    assert _login(user.email, DEFAULT_PASSWORD).status_code == 200
