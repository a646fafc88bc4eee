"""Two-factor authentication for staff: no access token and no admin session without it."""

import pytest
from django.contrib.auth.models import Permission
from django.test import Client
from django_otp.oath import TOTP
from django_otp.plugins.otp_static.models import StaticToken
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import services
from accounts.models import AuthEvent, RefreshToken, Session
from tests.accounts.conftest import LOGIN_URL
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import error_code

pytestmark = pytest.mark.django_db

MFA_URL = "/api/v1/auth/login/2fa/"
ADMIN_LOGIN = "/admin/login/"


def _code(device: TOTPDevice, *, later: int = 0) -> str:
    totp = TOTP(device.bin_key, device.step, device.t0, device.digits, device.drift)
    totp.time = totp.time + later * device.step
    return str(totp.token()).zfill(device.digits)


@pytest.fixture
def enrolled():
    """A staff member with a confirmed authenticator and recovery codes."""
    user = UserFactory(is_staff=True, is_superuser=True)
    device = services.totp_enrolment_start(user=user)
    codes = services.totp_enrolment_confirm(user=user, code=_code(device))
    device.refresh_from_db()
    user.device, user.recovery_codes = device, codes
    return user


@pytest.fixture
def no_device_backoff(settings):
    """django-otp also backs a device off for 2**(n-1) s after n wrong codes; a test types
    the right code straight after a wrong one."""
    settings.OTP_TOTP_THROTTLE_FACTOR = 0


def _api_login(api_client, user):
    return api_client.post(
        LOGIN_URL, {"email": user.email, "password": DEFAULT_PASSWORD}, format="json"
    )


# ------------------------------------------------------------------------------
# API
# ------------------------------------------------------------------------------
def test_api_login_of_an_enrolled_staff_member_needs_the_second_factor(
    api_client, enrolled, no_device_backoff
):
    first = _api_login(api_client, enrolled)
    assert first.status_code == 202
    body = first.json()
    assert body["mfa_required"] is True
    assert "access" not in body and "refresh" not in body
    assert body["expires_in"] == 300
    assert not Session.objects.filter(user=enrolled).exists()
    assert not RefreshToken.objects.exists()

    wrong = api_client.post(MFA_URL, {"challenge": body["challenge"], "code": "000000"})
    assert wrong.status_code == 401
    assert error_code(wrong) == "mfa_code_invalid"

    right = api_client.post(
        MFA_URL, {"challenge": body["challenge"], "code": _code(enrolled.device, later=1)}
    )
    assert right.status_code == 200, right.content
    assert right.json()["access"]
    login = AuthEvent.objects.get(kind=AuthEvent.Kind.LOGIN, user=enrolled)
    assert login.extra["mfa"] == "totp"
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.MFA_FAILED, user=enrolled).count() == 1

    replay = api_client.post(
        MFA_URL, {"challenge": body["challenge"], "code": _code(enrolled.device, later=2)}
    )
    assert replay.status_code == 401
    assert error_code(replay) == "mfa_challenge_invalid"


def test_a_recovery_code_works_once(api_client, enrolled):
    code = enrolled.recovery_codes[0]
    challenge = _api_login(api_client, enrolled).json()["challenge"]
    assert api_client.post(MFA_URL, {"challenge": challenge, "code": code}).status_code == 200
    challenge = _api_login(api_client, enrolled).json()["challenge"]
    again = api_client.post(MFA_URL, {"challenge": challenge, "code": code})
    assert again.status_code == 401
    assert StaticToken.objects.filter(device__user=enrolled).count() == 9


def test_a_forged_or_foreign_challenge_is_refused(api_client, enrolled):
    response = api_client.post(MFA_URL, {"challenge": "x" * 40, "code": "123456"})
    assert response.status_code == 401
    assert error_code(response) == "mfa_challenge_invalid"


def test_wrong_codes_kill_the_challenge_and_count_toward_the_lockout(api_client, enrolled):
    challenge = _api_login(api_client, enrolled).json()["challenge"]
    for _ in range(5):
        response = api_client.post(MFA_URL, {"challenge": challenge, "code": "000000"})
        assert response.status_code in (401, 429)
    dead = api_client.post(MFA_URL, {"challenge": challenge, "code": _code(enrolled.device)})
    assert dead.status_code in (401, 429)
    assert _api_login(api_client, enrolled).status_code == 429  # the email is locked out


def test_staff_must_enrol_when_2fa_is_required(api_client, settings):
    settings.STAFF_2FA_REQUIRED = True
    staff = UserFactory(is_staff=True)
    response = _api_login(api_client, staff)
    assert response.status_code == 403
    assert error_code(response) == "mfa_setup_required"
    shopper = UserFactory()
    assert _api_login(api_client, shopper).status_code == 200  # shoppers are not asked


# ------------------------------------------------------------------------------
# Admin
# ------------------------------------------------------------------------------
def _password_step(browser, user):
    return browser.post(
        ADMIN_LOGIN, {"username": user.email, "password": DEFAULT_PASSWORD, "next": "/admin/"}
    )


def test_no_admin_session_without_the_second_factor(enrolled, no_device_backoff):
    browser = Client()
    step = _password_step(browser, enrolled)
    assert step.status_code == 200
    assert 'name="code"' in step.content.decode()
    assert browser.get("/admin/").status_code == 302  # not in yet
    assert not Session.objects.filter(user=enrolled).exists()

    wrong = browser.post(ADMIN_LOGIN, {"step": "mfa", "code": "000000", "next": "/admin/"})
    assert wrong.status_code == 401
    assert browser.get("/admin/").status_code == 302

    right = browser.post(
        ADMIN_LOGIN, {"step": "mfa", "code": _code(enrolled.device, later=1), "next": "/admin/"}
    )
    assert right.status_code == 302
    assert browser.get("/admin/").status_code == 200
    login = AuthEvent.objects.get(kind=AuthEvent.Kind.LOGIN, user=enrolled)
    assert login.extra == {"via": "admin", "mfa": "totp"}


def test_a_shop_page_session_does_not_open_the_admin(enrolled):
    browser = Client()
    response = browser.post(
        "/account/login/", {"email": enrolled.email, "password": DEFAULT_PASSWORD}
    )
    assert response.status_code == 302
    assert response["Location"].startswith(ADMIN_LOGIN)
    assert browser.get("/admin/").status_code == 302
    page = browser.get(response["Location"])
    assert 'name="code"' in page.content.decode()
    # A session opened any other way (e.g. force_login) still has to give the code.
    other = Client()
    other.force_login(enrolled)
    assert other.get("/admin/").status_code == 302
    assert 'name="code"' in other.get(ADMIN_LOGIN).content.decode()
    done = other.post(ADMIN_LOGIN, {"step": "mfa", "code": enrolled.recovery_codes[1]})
    assert done.status_code == 302
    assert other.get("/admin/").status_code == 200


def test_required_2fa_enrols_at_the_admin_door(settings):
    settings.STAFF_2FA_REQUIRED = True
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    page = _password_step(browser, staff).content.decode()
    assert "<svg" in page and "Set up two-factor authentication" in page
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    done = browser.post(ADMIN_LOGIN, {"step": "mfa", "code": _code(device), "next": "/admin/"})
    assert done.status_code == 200
    assert "recovery codes" in done.content.decode()
    assert browser.get("/admin/").status_code == 200
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.MFA_ENROLLED, user=staff).exists()
    assert StaticToken.objects.filter(device__user=staff).count() == 10


def test_voluntary_enrolment_and_new_recovery_codes_on_the_2fa_page():
    staff = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(staff)
    page = browser.get("/admin/2fa/").content.decode()
    assert "<svg" in page and "Two-factor authentication is off" in page
    device = TOTPDevice.objects.get(user=staff, confirmed=False)
    browser.post("/admin/2fa/", {"action": "enrol", "step": "mfa", "code": _code(device)})
    assert "is on" in browser.get("/admin/2fa/").content.decode()  # the session is verified
    old = set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    browser.post("/admin/2fa/", {"action": "recovery_codes"})
    new = set(StaticToken.objects.filter(device__user=staff).values_list("token", flat=True))
    assert len(new) == 10 and not old & new


def test_a_superuser_resets_a_lost_device_and_it_is_logged(enrolled, api_client):
    root = UserFactory(is_staff=True, is_superuser=True)
    browser = Client()
    browser.force_login(root)
    change = f"/admin/accounts/user/{enrolled.pk}/change/"
    assert "on (a superuser can reset it" in browser.get(change).content.decode()
    browser.post(
        "/admin/accounts/user/", {"action": "mfa_reset", "_selected_action": [enrolled.pk]}
    )
    assert not TOTPDevice.objects.filter(user=enrolled).exists()
    assert ">off<" in browser.get(change).content.decode().replace("\n", "").replace(" ", "")
    reset = AuthEvent.objects.get(kind=AuthEvent.Kind.MFA_RESET, user=enrolled)
    assert reset.extra["actor"] == root.pk
    assert _api_login(api_client, enrolled).status_code == 200  # no second factor any more


def test_only_superusers_may_reset_2fa(enrolled):
    manager = UserFactory(is_staff=True)
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_user", "change_user"])
    )
    browser = Client()
    browser.force_login(manager)
    browser.post(
        "/admin/accounts/user/", {"action": "mfa_reset", "_selected_action": [enrolled.pk]}
    )
    assert TOTPDevice.objects.filter(user=enrolled).exists()
    with pytest.raises(PermissionError):
        services.mfa_reset(user=enrolled, actor=manager)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_second_steps_with_one_code_give_exactly_one_session(settings):
    """The device row is locked while a code is checked (django-otp, for_verify) and the
    challenge is spent once, so a code raced from two places opens one session."""
    import threading

    from django.db import close_old_connections, connection
    from rest_framework.test import APIClient

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    settings.OTP_TOTP_THROTTLE_FACTOR = 0
    user = UserFactory(is_staff=True)
    device = services.totp_enrolment_start(user=user)
    services.totp_enrolment_confirm(user=user, code=_code(device))
    device.refresh_from_db()
    challenge = _api_login(APIClient(), user).json()["challenge"]
    code = _code(device, later=1)
    threads, results = 6, []
    barrier = threading.Barrier(threads)

    def second_step():
        try:
            barrier.wait()
            response = APIClient().post(MFA_URL, {"challenge": challenge, "code": code})
            results.append(response.status_code)
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=second_step) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    assert sorted(results) == [200] + [401] * (threads - 1), results
    assert Session.objects.filter(user=user).count() == 1
