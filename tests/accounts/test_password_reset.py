import re

import pytest
from django.conf import settings
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import AuthEvent, Session
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import field_errors

from .conftest import ME_URL, bearer

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "brand-new-passphrase-99"


def _reset(email):
    return APIClient().post("/api/v1/auth/password/reset/", {"email": email}, format="json")


def _uid_and_token(message):
    match = re.search(r"/account/reset/([^/]+)/([^/]+)/", message.body)
    return match.group(1), match.group(2)


def _confirm(uid, token, password=NEW_PASSWORD):
    return APIClient().post(
        "/api/v1/auth/password/reset/confirm/",
        {"uid": uid, "token": token, "new_password": password},
        format="json",
    )


def test_reset_request_answers_the_same_for_known_and_unknown_emails(mail_on_commit):
    UserFactory(email="known@example.com")
    with mail_on_commit():
        known, unknown = _reset("known@example.com"), _reset("ghost@example.com")
    assert known.status_code == unknown.status_code == 202
    assert known.json() == unknown.json()
    assert [m.to for m in mail.outbox] == [["known@example.com"]]


def test_reset_confirm_sets_password_and_ends_every_session(api_login, mail_on_commit):
    user = UserFactory()
    body = api_login(user)
    with mail_on_commit():
        _reset(user.email)
    uid, token = _uid_and_token(mail.outbox[0])

    assert _confirm(uid, token).status_code == 204

    assert bearer(body["access"]).get(ME_URL).status_code == 401
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()
    api_login(user, password=NEW_PASSWORD)
    assert AuthEvent.objects.filter(kind="password_reset", user=user).exists()
    again = _confirm(uid, token, password="yet-another-passphrase-1")
    assert (again.status_code, again.json()["code"]) == (400, "invalid_token")


def test_reset_lifts_the_lockout(api_login, mail_on_commit):
    user = UserFactory()
    client = APIClient()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        client.post("/api/v1/auth/login/", {"email": user.email, "password": "wrong"})
    locked = client.post("/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert locked.status_code == 429
    with mail_on_commit():
        assert _reset(user.email).status_code == 202  # reset stays possible while locked
    assert _confirm(*_uid_and_token(mail.outbox[0])).status_code == 204
    api_login(user, password=NEW_PASSWORD)


@pytest.mark.parametrize(
    ("uid", "token"), [("MQ", "bad-token"), ("!!", "x"), ("", ""), ("OTk5OTk5", "abc-def")]
)
def test_bad_reset_link_is_400_invalid_token(uid, token):
    response = _confirm(uid, token)
    assert response.status_code == 400


def test_weak_password_on_reset_is_400_on_new_password(mail_on_commit):
    user = UserFactory()
    with mail_on_commit():
        _reset(user.email)
    response = _confirm(*_uid_and_token(mail.outbox[0]), password="123")
    assert response.status_code == 400 and "new_password" in field_errors(response)
