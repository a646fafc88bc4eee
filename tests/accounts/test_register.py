import re

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import AuthEvent, User
from tests.factories import UserFactory
from tests.helpers import field_errors

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-enough-passphrase-7"


def _register(email, password=PASSWORD, **extra):
    return APIClient().post(
        "/api/v1/auth/register/", {"email": email, "password": password, **extra}, format="json"
    )


def _login(email, password=PASSWORD):
    return APIClient().post(
        "/api/v1/auth/login/", {"email": email, "password": password}, format="json"
    )


def _token_from(message) -> str:
    return re.search(r"/account/verify/([^/\s]+)/", message.body).group(1)


def test_register_verify_then_login(mail_on_commit):
    with mail_on_commit():
        response = _register("New@Example.com", first_name="Ada")
    assert response.status_code == 201
    user = User.objects.get(email="new@example.com")
    assert not user.email_verified
    assert _login("new@example.com").json()["code"] == "email_not_verified"

    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new@example.com"]
    token = _token_from(mail.outbox[0])
    verified = APIClient().post("/api/v1/auth/verify-email/", {"token": token}, format="json")

    assert verified.status_code == 200
    assert _login("new@example.com").status_code == 200
    assert AuthEvent.objects.filter(kind="email_verified", user=user).exists()


def test_verification_token_works_once(mail_on_commit):
    with mail_on_commit():
        _register("once@example.com")
    token = _token_from(mail.outbox[0])
    client = APIClient()
    assert client.post("/api/v1/auth/verify-email/", {"token": token}).status_code == 200
    again = client.post("/api/v1/auth/verify-email/", {"token": token})
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")


def test_expired_verification_token_is_refused(mail_on_commit, settings):
    with mail_on_commit():
        _register("late@example.com")
    settings.EMAIL_VERIFICATION_TIMEOUT = -1
    response = APIClient().post(
        "/api/v1/auth/verify-email/", {"token": _token_from(mail.outbox[0])}
    )
    assert (response.status_code, response.json()["code"]) == (400, "invalid_token")


@pytest.mark.parametrize("token", ["", "garbage", "MQ.zz-zz", "x" * 2000])
def test_bad_verification_token_is_400(token):
    response = APIClient().post("/api/v1/auth/verify-email/", {"token": token}, format="json")
    assert response.status_code == 400


def test_taken_email_gets_the_same_answer_and_its_owner_is_mailed(mail_on_commit):
    owner = UserFactory(email="taken@example.com")
    with mail_on_commit():
        fresh = _register("fresh@example.com")
        taken = _register("TAKEN@example.com")
    assert fresh.status_code == taken.status_code == 201
    assert fresh.json() == taken.json()
    assert User.objects.filter(email="taken@example.com").count() == 1
    owner_mail = [m for m in mail.outbox if m.to == ["taken@example.com"]]
    assert len(owner_mail) == 1 and "already have an account" in owner_mail[0].subject
    owner.refresh_from_db()
    assert owner.check_password("correct-horse-battery-staple")


def test_weak_password_is_400_on_password_for_new_and_taken_emails():
    UserFactory(email="taken@example.com")
    for email in ("new@example.com", "taken@example.com"):
        response = _register(email, password="12345678")
        assert response.status_code == 400
        assert "password" in field_errors(response)


def test_resend_is_always_202_and_mails_only_unverified_accounts(mail_on_commit):
    UserFactory(email="verified@example.com")
    UserFactory(email="pending@example.com", email_verified=False)
    client = APIClient()
    with mail_on_commit():
        codes = [
            client.post("/api/v1/auth/verify-email/resend/", {"email": email}).status_code
            for email in ("verified@example.com", "pending@example.com", "ghost@example.com")
        ]
    assert codes == [202, 202, 202]
    assert [m.to for m in mail.outbox] == [["pending@example.com"]]
