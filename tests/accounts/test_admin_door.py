"""The admin's login is the API's and the shop's: lockout per email, throttle per address,
the auth log; the index shows the staff member's own recent sign-ins."""

import pytest
from django.test import Client
from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from accounts.models import AuthEvent, Session
from tests.accounts.conftest import LOGIN_URL
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

ADMIN_LOGIN = "/admin/login/"


def _admin_login(browser, email, password):
    return browser.post(ADMIN_LOGIN, {"username": email, "password": password, "next": "/admin/"})


def test_admin_login_locks_after_5_failures_and_everything_is_logged(api_client):
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    for _ in range(5):
        response = _admin_login(browser, staff.email, "wrong-password")
        assert response.status_code == 200
        assert "correct email address and password" in response.content.decode()
    refused = _admin_login(browser, staff.email, DEFAULT_PASSWORD)
    assert refused.status_code == 200
    assert "Too many failed attempts" in refused.content.decode()
    assert browser.get("/admin/").status_code == 302  # still outside
    failed = AuthEvent.objects.filter(kind=AuthEvent.Kind.LOGIN_FAILED, email=staff.email)
    assert failed.count() == 5
    assert {event.extra["via"] for event in failed} == {"admin"}
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.LOGIN_LOCKED, email=staff.email).exists()
    # One lockout for every door: the API refuses the same email now.
    api = api_client.post(LOGIN_URL, {"email": staff.email, "password": DEFAULT_PASSWORD})
    assert api.status_code == 429


def test_admin_login_opens_a_logged_session_for_staff_only():
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    response = _admin_login(browser, staff.email, DEFAULT_PASSWORD)
    assert response.status_code == 302
    assert browser.get("/admin/").status_code == 200
    login = AuthEvent.objects.get(kind=AuthEvent.Kind.LOGIN, user=staff)
    assert login.extra["via"] == "admin"
    assert Session.objects.filter(user=staff, kind=Session.Kind.WEB, revoked_at=None).exists()

    shopper = UserFactory()
    other = Client()
    refused = _admin_login(other, shopper.email, DEFAULT_PASSWORD)
    assert refused.status_code == 200
    assert other.get("/admin/").status_code == 302


def test_admin_login_shares_the_api_throttle_per_address(monkeypatch, api_client):
    rates = {**api_settings.DEFAULT_THROTTLE_RATES, "login": "3/min"}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    staff = UserFactory(is_staff=True)
    for _ in range(2):
        api_client.post(LOGIN_URL, {"email": "nobody@example.com", "password": "x"})
    browser = Client()
    assert _admin_login(browser, "someone@example.com", "x").status_code == 200  # the 3rd
    throttled = _admin_login(browser, staff.email, DEFAULT_PASSWORD)  # the 4th, right password
    assert throttled.status_code == 429
    assert "Too many sign-in attempts" in throttled.content.decode()
    assert browser.get("/admin/").status_code == 302
    page = Client().post("/account/login/", {"email": staff.email, "password": DEFAULT_PASSWORD})
    assert page.status_code == 429  # the shop's login page counts against the same budget


def test_the_admin_index_shows_my_own_recent_sign_ins():
    staff = UserFactory(is_staff=True, is_superuser=True)
    colleague = UserFactory(is_staff=True)
    _admin_login(Client(), staff.email, "wrong-password")
    _admin_login(Client(), colleague.email, "wrong-password")
    browser = Client(REMOTE_ADDR="203.0.113.9")
    _admin_login(browser, staff.email, DEFAULT_PASSWORD)
    html = browser.get("/admin/").content.decode()
    assert "Your recent sign-ins" in html
    assert "Login failed (admin)" in html
    assert "Login (admin)" in html
    assert "203.0.113.9" in html
    assert html.count("Login failed") == 1  # the colleague's failure is not mine
