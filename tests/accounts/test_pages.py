import re

import pytest
from django.conf import settings
from django.core import mail
from django.test import Client

from accounts.models import Session, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

from .conftest import ME_URL, bearer

pytestmark = pytest.mark.django_db

NEW_PASSWORD = "brand-new-passphrase-99"


def _web_login(client, user, password=DEFAULT_PASSWORD, **extra):
    return client.post(
        "/account/login/",
        {"email": user.email, "password": password, **extra},
        HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Firefox/140.0",
    )


def test_login_page_logs_in_and_opens_a_device_session():
    user, client = UserFactory(), Client()
    assert client.get("/account/login/").status_code == 200
    response = _web_login(client, user, next="/account/")
    assert response.status_code == 302 and response["Location"] == "/account/"
    session = Session.objects.get(user=user)
    assert (session.kind, session.platform) == ("web", "Linux")
    page = client.get("/account/")
    assert b"this device" in page.content
    assert b"Log out everywhere" in page.content


def test_login_page_refuses_wrong_password_with_the_error_next_to_the_form():
    user, client = UserFactory(), Client()
    response = _web_login(client, user, password="wrong")
    assert response.status_code == 401
    assert b"The email or password is not correct." in response.content
    assert not Session.objects.exists()


def test_login_page_refuses_an_unsafe_next_url():
    user, client = UserFactory(), Client()
    response = _web_login(client, user, next="https://evil.example.com/")
    assert response["Location"] == settings.LOGIN_REDIRECT_URL


def test_login_page_shows_the_lockout():
    user, client = UserFactory(), Client()
    for _ in range(settings.LOGIN_LOCKOUT_FAILURES):
        _web_login(client, user, password="wrong")
    response = _web_login(client, user)
    assert response.status_code == 429
    assert b"Too many failed attempts" in response.content


def test_logout_posts_end_the_device_session():
    user, client = UserFactory(), Client()
    client.force_login(user)
    session = Session.objects.get(user=user)
    assert client.get("/account/logout/").status_code == 405
    response = client.post("/account/logout/")
    assert response.status_code == 302
    session.refresh_from_db()
    assert session.revoked_at is not None
    assert client.get("/account/")["Location"].startswith("/account/login/")


def test_force_login_is_a_tracked_web_session_that_revocation_ends():
    user, client = UserFactory(), Client()
    client.force_login(user)
    session = Session.objects.get(user=user, kind="web")
    assert client.get("/account/").status_code == 200
    from accounts import services

    services.session_revoke(session_id=session.pk, reason="staff")
    response = client.get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")


def test_account_page_ends_another_device(api_login):
    user, client = UserFactory(), Client()
    phone = api_login(user, device_name="Phone")
    client.force_login(user)
    page = client.get("/account/")
    assert b"Phone" in page.content
    response = client.post(f"/account/sessions/{phone['session_id']}/end/", follow=True)
    assert b"The session has ended." in response.content
    assert bearer(phone["access"]).get(ME_URL).status_code == 401
    assert client.get("/account/").status_code == 200


def test_account_page_cannot_end_someone_elses_session(api_login):
    other = api_login(UserFactory())
    client = Client()
    client.force_login(UserFactory())
    response = client.post(f"/account/sessions/{other['session_id']}/end/", follow=True)
    assert b"already ended" in response.content
    assert bearer(other["access"]).get(ME_URL).status_code == 200


def test_log_out_everywhere_from_the_account_page(api_login):
    user, client = UserFactory(), Client()
    phone = api_login(user)
    client.force_login(user)
    response = client.post("/account/sessions/end-all/")
    assert response["Location"] == "/account/login/"
    assert bearer(phone["access"]).get(ME_URL).status_code == 401
    assert client.get("/account/").status_code == 302


def test_register_and_verify_pages(mail_on_commit):
    client = Client()
    assert client.get("/account/register/").status_code == 200
    with mail_on_commit():
        response = client.post(
            "/account/register/",
            {
                "email": "page@example.com",
                "password": "a-long-enough-passphrase-7",
                "password_confirm": "a-long-enough-passphrase-7",
            },
        )
    assert response.status_code == 302
    link = re.search(r"http\S+/account/verify/\S+/", mail.outbox[0].body).group(0)
    path = link.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    response = client.post(f"/{path}", follow=True)
    assert b"Your email address is confirmed." in response.content
    assert User.objects.get(email="page@example.com").email_verified


def test_register_page_shows_weak_password_next_to_the_field():
    response = Client().post(
        "/account/register/",
        {"email": "weak@example.com", "password": "12345678", "password_confirm": "12345678"},
    )
    assert response.status_code == 200
    assert b'id="id_password_error"' in response.content
    assert not User.objects.filter(email="weak@example.com").exists()


def test_password_change_page_keeps_this_browser_and_ends_the_others(api_login):
    user, client = UserFactory(), Client()
    phone = api_login(user)
    client.force_login(user)
    response = client.post(
        "/account/password/change/",
        {
            "old_password": DEFAULT_PASSWORD,
            "new_password": NEW_PASSWORD,
            "new_password_confirm": NEW_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert client.get("/account/").status_code == 200
    assert bearer(phone["access"]).get(ME_URL).status_code == 401


def test_password_reset_pages(mail_on_commit):
    user, client = UserFactory(), Client()
    assert client.get("/account/password/reset/").status_code == 200
    with mail_on_commit():
        client.post("/account/password/reset/", {"email": user.email})
    path = re.search(r"/account/reset/[^/]+/[^/]+/", mail.outbox[0].body).group(0)
    assert client.get(path).status_code == 200
    response = client.post(
        path, {"new_password": NEW_PASSWORD, "new_password_confirm": NEW_PASSWORD}
    )
    assert response["Location"] == "/account/login/"
    assert _web_login(client, user, password=NEW_PASSWORD).status_code == 302
    assert client.get(path).status_code == 302  # the link worked once


def test_account_page_needs_login():
    response = Client().get("/account/")
    assert response.status_code == 302 and response["Location"].startswith("/account/login/")
