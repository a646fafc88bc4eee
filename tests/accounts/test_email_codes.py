"""The 6-digit code alternative to emailed links (for mobile apps), and link templates."""

import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import Session, User
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import error_code, field_errors

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "brand-new-passphrase-99"
VERIFY_CODE = "/api/v1/auth/verify-email/code/"
RESET_CODE = "/api/v1/auth/password/reset/code/"


def _code(message) -> str:
    return re.search(r"enter this code instead: (\d{6})", message.body).group(1)


def _post(url, body):
    return APIClient().post(url, body, format="json")


def _register(email, mail_on_commit):
    with mail_on_commit():
        response = _post("/api/v1/auth/register/", {"email": email, "password": DEFAULT_PASSWORD})
    assert response.status_code == 201
    return mail.outbox[-1]


def _reset_mail(email, mail_on_commit):
    with mail_on_commit():
        assert _post("/api/v1/auth/password/reset/", {"email": email}).status_code == 202
    return mail.outbox[-1]


def test_the_verification_email_carries_a_code_that_verifies_once(mail_on_commit):
    message = _register("phone@example.com", mail_on_commit)
    code = _code(message)
    response = _post(VERIFY_CODE, {"email": "Phone@Example.com", "code": code})
    assert response.status_code == 200
    assert User.objects.get(email="phone@example.com").email_verified
    again = _post(VERIFY_CODE, {"email": "phone@example.com", "code": code})
    assert (again.status_code, error_code(again)) == (400, "invalid_code")


def test_a_wrong_code_is_refused_and_a_new_email_replaces_the_old_code(mail_on_commit):
    first = _code(_register("phone@example.com", mail_on_commit))
    wrong = f"{(int(first) + 1) % 10**6:06d}"
    response = _post(VERIFY_CODE, {"email": "phone@example.com", "code": wrong})
    assert (response.status_code, error_code(response)) == (400, "invalid_code")
    with mail_on_commit():
        _post("/api/v1/auth/verify-email/resend/", {"email": "phone@example.com"})
    second = _code(mail.outbox[-1])
    if second != first:
        old = _post(VERIFY_CODE, {"email": "phone@example.com", "code": first})
        assert error_code(old) == "invalid_code"
    assert _post(VERIFY_CODE, {"email": "phone@example.com", "code": second}).status_code == 200


def test_a_code_wears_out_after_the_allowed_tries(mail_on_commit, settings):
    settings.EMAIL_CODE_MAX_ATTEMPTS = 2
    settings.LOGIN_LOCKOUT_FAILURES = 100
    code = _code(_register("phone@example.com", mail_on_commit))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(2):
        assert error_code(_post(VERIFY_CODE, {"email": "phone@example.com", "code": wrong})) == (
            "invalid_code"
        )
    # The right code no longer works: only a new email helps.
    late = _post(VERIFY_CODE, {"email": "phone@example.com", "code": code})
    assert (late.status_code, error_code(late)) == (400, "invalid_code")
    assert not User.objects.get(email="phone@example.com").email_verified


def test_an_expired_code_is_refused(mail_on_commit, settings):
    settings.EMAIL_CODE_MINUTES = 0  # stored with no lifetime: gone at once
    code = _code(_register("phone@example.com", mail_on_commit))
    response = _post(VERIFY_CODE, {"email": "phone@example.com", "code": code})
    assert error_code(response) == "invalid_code"


def test_wrong_codes_count_towards_the_login_lockout(mail_on_commit, settings):
    settings.LOGIN_LOCKOUT_FAILURES = 3
    user = UserFactory(email="locked@example.com")
    code = _code(_reset_mail(user.email, mail_on_commit))
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    body = {"email": user.email, "code": wrong, "new_password": NEW_PASSWORD}
    answers = [error_code(_post(RESET_CODE, body)) for _ in range(3)]
    assert answers == ["invalid_code"] * 3
    locked = _post(RESET_CODE, {**body, "code": code})
    assert (locked.status_code, error_code(locked)) == (429, "too_many_attempts")
    assert int(locked["Retry-After"]) > 0
    login = _post("/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert error_code(login) == "too_many_attempts"


def test_unknown_emails_answer_like_wrong_codes():
    response = _post(VERIFY_CODE, {"email": "nobody@example.com", "code": "123456"})
    assert (response.status_code, error_code(response)) == (400, "invalid_code")


def test_a_reset_code_sets_the_password_and_ends_every_session(mail_on_commit):
    user = UserFactory(email="reset@example.com")
    login = _post("/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 200
    code = _code(_reset_mail(user.email, mail_on_commit))

    weak = _post(RESET_CODE, {"email": user.email, "code": code, "new_password": "123"})
    assert "new_password" in field_errors(weak)  # refused before the code is spent

    response = _post(RESET_CODE, {"email": user.email, "code": code, "new_password": NEW_PASSWORD})
    assert response.status_code == 204
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
    relogin = _post("/api/v1/auth/login/", {"email": user.email, "password": NEW_PASSWORD})
    assert relogin.status_code == 200


def test_a_code_must_be_six_digits():
    response = _post(VERIFY_CODE, {"email": "a@example.com", "code": "12ab"})
    assert "code" in field_errors(response)


def test_links_follow_the_frontend_or_per_purpose_templates(mail_on_commit, settings):
    settings.FRONTEND_URL = "https://app.example.com"
    message = _register("spa@example.com", mail_on_commit)
    assert re.search(r"https://app\.example\.com/verify-email\?token=\S+", message.body)

    settings.EMAIL_LINK_RESET = "shopapp://reset?u={uid}&t={token}"
    UserFactory(email="app@example.com")
    body = _reset_mail("app@example.com", mail_on_commit).body
    assert re.search(r"shopapp://reset\?u=\w+&t=[\w-]+", body)


def test_links_default_to_the_shops_own_pages(mail_on_commit, settings):
    settings.SITE_URL = "https://shop.example.com"
    message = _register("web@example.com", mail_on_commit)
    assert "https://shop.example.com/account/verify/" in message.body


def test_a_link_template_with_an_unknown_placeholder_fails_the_checks(settings):
    from accounts.links import email_link_templates_check

    settings.EMAIL_LINK_ORDER = "https://app.example.com/o/{id}"
    errors = email_link_templates_check(None)
    assert [e.id for e in errors] == ["accounts.E101"]
