"""Mail caps per address and kind; wrong old passwords count toward the lockout."""

import pytest
from django.core import mail
from rest_framework.test import APIClient

from accounts.models import AuthEvent
from tests.accounts.conftest import bearer
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _no_address_throttles(monkeypatch):
    """Lift the per-address throttles: the cap is per mailbox, whoever asks."""
    from rest_framework.settings import api_settings
    from rest_framework.throttling import SimpleRateThrottle

    rates = {name: "1000/min" for name in api_settings.DEFAULT_THROTTLE_RATES}
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)


def _post(url, body):
    return APIClient().post(url, body, format="json")


def _mails_to(address):
    return [m for m in mail.outbox if m.to == [address]]


def test_registering_a_taken_email_mails_its_owner_at_most_3_times_an_hour(mail_on_commit):
    UserFactory(email="taken@example.com")
    statuses = set()
    for _ in range(20):
        with mail_on_commit():
            response = _post(
                "/api/v1/auth/register/",
                {"email": "taken@example.com", "password": "a-long-enough-passw0rd"},
            )
        statuses.add(response.status_code)
    assert statuses == {201}  # the same answer as a new account, capped or not
    assert len(_mails_to("taken@example.com")) == 3
    assert AuthEvent.objects.filter(kind=AuthEvent.Kind.MAIL_CAPPED).count() == 17


def test_verification_resends_are_capped(mail_on_commit):
    UserFactory(email="new@example.com", email_verified=False)
    for _ in range(30):
        with mail_on_commit():
            response = _post("/api/v1/auth/verify-email/resend/", {"email": "new@example.com"})
        assert response.status_code == 202
    assert len(_mails_to("new@example.com")) == 3


def test_password_resets_are_capped_per_address_not_globally(mail_on_commit):
    UserFactory(email="a@example.com")
    UserFactory(email="b@example.com")
    for _ in range(30):
        with mail_on_commit():
            assert _post(
                "/api/v1/auth/password/reset/", {"email": "a@example.com"}
            ).status_code in (
                202,
                200,
            )
    with mail_on_commit():
        _post("/api/v1/auth/password/reset/", {"email": "b@example.com"})
    assert len(_mails_to("a@example.com")) == 3
    assert len(_mails_to("b@example.com")) == 1


def test_wrong_old_passwords_count_toward_the_lockout(api_login):
    user = UserFactory()
    client = bearer(api_login(user)["access"])
    url = "/api/v1/auth/password/change/"
    for _ in range(5):
        wrong = client.post(url, {"old_password": "guess", "new_password": "n3w-passw0rd-ok"})
        assert wrong.status_code == 400
    right = client.post(url, {"old_password": DEFAULT_PASSWORD, "new_password": "n3w-passw0rd-ok"})
    assert right.status_code == 429
    assert error_code(right) == "too_many_attempts"
    # and the email is locked for login too
    login = _post("/api/v1/auth/login/", {"email": user.email, "password": DEFAULT_PASSWORD})
    assert login.status_code == 429
    failed = AuthEvent.objects.filter(kind=AuthEvent.Kind.LOGIN_FAILED, user=user)
    assert {e.extra["via"] for e in failed} == {"password_change"}


# ------------------------------------------------------------------------------
# Look-alike emails (UTS #39 skeletons)
# ------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "lookalike",
    [
        "k\u0131ss@example.com",  # dotless i
        "ki\u017fs@example.com",  # long s
        "kiss@\u0435xample.com",  # Cyrillic ie
        "KISS@EXAMPLE.COM",
        "kiss@examp1e.com",  # digit one for l
    ],
)
def test_an_address_that_looks_like_a_taken_one_cannot_register(lookalike, mail_on_commit):
    from accounts.models import User

    owner = UserFactory(email="kiss@example.com")
    with mail_on_commit():
        response = _post(
            "/api/v1/auth/register/", {"email": lookalike, "password": "a-long-enough-passw0rd"}
        )
    assert response.status_code == 201  # the same answer as for a new address
    assert User.objects.count() == 1
    assert [m.to for m in mail.outbox] == [[owner.email]]  # its owner hears of it


def test_different_addresses_still_register(mail_on_commit):
    from accounts.models import User

    UserFactory(email="kiss@example.com")
    for email in ("kisses@example.com", "kiss@example.org", "kiss@example.co"):
        response = _post(
            "/api/v1/auth/register/", {"email": email, "password": "a-long-enough-passw0rd"}
        )
        assert response.status_code == 201
    assert User.objects.count() == 4


def test_invisible_characters_do_not_make_a_new_address():
    from accounts.confusables import email_skeleton

    assert email_skeleton("ki\u200bss@example.com") == email_skeleton("kiss@example.com")


def test_the_database_refuses_a_look_alike_saved_past_the_service():
    from django.db import IntegrityError, transaction

    UserFactory(email="kiss@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        UserFactory(email="kiss@\u0435xample.com")


# ------------------------------------------------------------------------------
# Email change: the link to the new address and the notices are capped too
# ------------------------------------------------------------------------------
def _page_client(user):
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client


def _email_change(client, new_email):
    return client.post("/account/email/", {"new_email": new_email, "password": DEFAULT_PASSWORD})


def test_email_change_links_to_one_address_are_capped_whoever_asks(mail_on_commit):
    askers = [_page_client(UserFactory()) for _ in range(2)]
    statuses = set()
    for attempt in range(10):
        with mail_on_commit():
            response = _email_change(askers[attempt % 2], "target@example.com")
        statuses.add((response.status_code, response["Location"]))
    assert statuses == {(302, "/account/")}  # the same answer, capped or not
    links = _mails_to("target@example.com")
    assert len(links) == 3
    assert all("confirm your new email address" in m.subject for m in links)
    capped = AuthEvent.objects.filter(kind=AuthEvent.Kind.MAIL_CAPPED)
    assert capped.filter(email="target@example.com").count() == 7
    assert {e.extra["mail"] for e in capped} >= {"email_change_confirm"}


def test_email_change_to_a_taken_address_notifies_its_owner_at_most_3_times(mail_on_commit):
    UserFactory(email="owner@example.com")
    asker = UserFactory(email="asker@example.com")
    client = _page_client(asker)
    for _ in range(10):
        with mail_on_commit():
            response = _email_change(client, "owner@example.com")
        assert response.status_code == 302
    assert len(_mails_to("owner@example.com")) == 3
    # the asker's own "a change was requested" notice is capped per its address as well
    assert len(_mails_to("asker@example.com")) == 3
    # and another address still gets its link
    with mail_on_commit():
        _email_change(client, "elsewhere@example.com")
    assert len(_mails_to("elsewhere@example.com")) == 1
