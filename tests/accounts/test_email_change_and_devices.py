"""Account page: email change with verification, device names, password rules shown first."""

import re

import pytest
from django.core import mail
from django.test import Client

from accounts.devices import device_label
from accounts.models import Session, User
from tests.factories import DEFAULT_PASSWORD, UserFactory

pytestmark = pytest.mark.django_db

CHROME_LINUX = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
SAFARI_IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1"
)


@pytest.fixture
def logged_in():
    user, client = UserFactory(first_name="Ada"), Client()
    response = client.post(
        "/account/login/",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        HTTP_USER_AGENT=CHROME_LINUX,
    )
    assert response.status_code == 302
    return user, client


def _link(message) -> str:
    return re.search(r"http://\S+(/account/email/confirm/\S+/)", message.body).group(1)


def test_email_change_is_confirmed_at_the_new_address_and_told_to_the_old(
    logged_in, mail_on_commit
):
    user, client = logged_in
    old = user.email
    form = client.get("/account/email/").content.decode()
    assert "Change your email address" in form
    with mail_on_commit():
        response = client.post(
            "/account/email/", {"new_email": "Ada.New@Example.com", "password": DEFAULT_PASSWORD}
        )
    assert response.status_code == 302
    user.refresh_from_db()
    assert user.email == old  # nothing changes before the link is opened
    to_new = next(m for m in mail.outbox if m.to == ["ada.new@example.com"])
    to_old = next(m for m in mail.outbox if m.to == [old])
    assert "confirm your new email address" in to_new.subject
    assert "ada.new@example.com" in to_old.body and "change your password" in to_old.body

    link = _link(to_new)
    assert client.get(link).status_code == 200  # a page with a button; a GET changes nothing
    user.refresh_from_db()
    assert user.email == old
    mail.outbox.clear()
    with mail_on_commit():
        response = client.post(link, follow=True)
    assert "Your email address is now ada.new@example.com." in response.content.decode()
    user.refresh_from_db()
    assert user.email == "ada.new@example.com" and user.email_verified
    assert [m.to for m in mail.outbox] == [[old]]
    assert "is now ada.new@example.com" in mail.outbox[0].body
    # The link works once: the email it was made for has changed.
    response = client.post(link, follow=True)
    assert "The link is invalid or has expired." in response.content.decode()


def test_email_change_needs_the_password(logged_in, mail_on_commit):
    _, client = logged_in
    with mail_on_commit():
        response = client.post("/account/email/", {"new_email": "x@example.com", "password": "no"})
    assert response.status_code == 200
    assert "Your password is not correct." in response.content.decode()
    assert mail.outbox == []


def test_a_taken_address_gets_a_notice_not_a_link_and_the_answer_is_the_same(
    logged_in, mail_on_commit
):
    user, client = logged_in
    other = UserFactory(email="taken@example.com")
    with mail_on_commit():
        response = client.post(
            "/account/email/", {"new_email": other.email, "password": DEFAULT_PASSWORD}
        )
    assert response.status_code == 302
    to_taken = next(m for m in mail.outbox if m.to == [other.email])
    assert "/account/email/confirm/" not in to_taken.body
    assert "already has an account" in to_taken.body
    user.refresh_from_db()
    assert user.email != other.email


def test_a_forged_or_stale_link_changes_nothing(logged_in, mail_on_commit):
    user, client = logged_in
    with mail_on_commit():
        client.post("/account/email/", {"new_email": "n@example.com", "password": DEFAULT_PASSWORD})
    link = _link(next(m for m in mail.outbox if m.to == ["n@example.com"]))
    client.post(link[:-3] + "xx/")
    user.set_password("another-long-passphrase")
    user.save()
    Client().post(link)
    assert User.objects.get(pk=user.pk).email == user.email


def test_devices_are_named_from_the_user_agent(logged_in):
    user, client = logged_in
    Session.objects.filter(user=user).update(user_agent=CHROME_LINUX)
    page = client.get("/account/").content.decode()
    assert 'data-testid="device-name">Chrome on Linux<' in page
    assert "Chrome/131.0.0.0" not in page  # the raw string stays out of sight
    assert device_label(SAFARI_IPHONE) == "Mobile Safari on iOS (iPhone)"
    assert device_label("") == ""


def test_password_rules_are_shown_before_typing():
    for url in ("/account/register/",):
        page = Client().get(url).content.decode()
        assert 'data-testid="password-rules"' in page
        assert "at least 8 characters" in page
        assert page.index('data-testid="password-rules"') < page.index('name="password"')
