import uuid
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from accounts.models import AuthEvent, Session
from tests.factories import DEFAULT_PASSWORD, UserFactory
from tests.helpers import field_errors

from .conftest import ME_URL, REFRESH_URL, bearer, cache_clear

pytestmark = pytest.mark.django_db

SESSIONS_URL = "/api/v1/auth/sessions/"


def test_sessions_list_shows_active_sessions_newest_first_with_current(api_login):
    user = UserFactory()
    older = api_login(user, device_name="Laptop")
    newer = api_login(user, device_name="Phone")
    revoked = api_login(user, device_name="Old tablet")
    bearer(revoked["access"]).post("/api/v1/auth/logout/")

    response = bearer(older["access"]).get(SESSIONS_URL)

    assert response.status_code == 200
    rows = response.json()
    assert [row["id"] for row in rows] == [newer["session_id"], older["session_id"]]
    assert [row["current"] for row in rows] == [False, True]
    assert set(rows[0]) == {
        "id",
        "device_name",
        "platform",
        "user_agent",
        "ip_address",
        "created_at",
        "last_seen_at",
        "expires_at",
        "current",
    }


@pytest.mark.parametrize("sessions", [1, 5])
def test_sessions_list_query_count_does_not_grow(api_login, django_assert_num_queries, sessions):
    user = UserFactory()
    bodies = [api_login(user) for _ in range(sessions)]
    client = bearer(bodies[0]["access"])
    with django_assert_num_queries(1):
        assert len(client.get(SESSIONS_URL).json()) == sessions


def test_deleting_one_session_kills_its_access_token_at_once(api_login):
    user = UserFactory()
    phone, laptop = api_login(user), api_login(user)
    assert bearer(phone["access"]).get(ME_URL).status_code == 200

    response = bearer(laptop["access"]).delete(f"{SESSIONS_URL}{phone['session_id']}/")

    assert response.status_code == 204
    assert bearer(phone["access"]).get(ME_URL).status_code == 401
    assert bearer(laptop["access"]).get(ME_URL).status_code == 200


def test_another_users_session_id_gives_404(api_login):
    mine, theirs = api_login(UserFactory()), api_login(UserFactory())
    client = bearer(mine["access"])
    for session_id in (theirs["session_id"], str(uuid.uuid4()), "not-a-uuid"):
        response = client.delete(f"{SESSIONS_URL}{session_id}/")
        assert response.status_code == 404, session_id
        assert response.json()["code"] == "not_found"
    assert bearer(theirs["access"]).get(ME_URL).status_code == 200


def test_logout_ends_the_current_session(api_login):
    user = UserFactory()
    body, other = api_login(user), api_login(user)
    client = bearer(body["access"])
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert client.get(ME_URL).status_code == 401
    assert APIClient().post(REFRESH_URL, {"refresh": body["refresh"]}).status_code == 401
    assert bearer(other["access"]).get(ME_URL).status_code == 200
    assert AuthEvent.objects.filter(kind="logout", session_id=body["session_id"]).exists()


def test_logout_with_only_the_refresh_token(api_login):
    body = api_login(UserFactory())
    response = APIClient().post("/api/v1/auth/logout/", {"refresh": body["refresh"]}, format="json")
    assert response.status_code == 204
    assert bearer(body["access"]).get(ME_URL).status_code == 401


def test_logout_without_any_token_is_401():
    assert APIClient().post("/api/v1/auth/logout/").status_code == 401


def test_logout_all_ends_api_and_web_sessions(api_login):
    user = UserFactory()
    phone, laptop = api_login(user), api_login(user)
    browser = Client()
    browser.force_login(user)
    assert browser.get("/account/").status_code == 200

    assert bearer(phone["access"]).post("/api/v1/auth/logout-all/").status_code == 204

    assert bearer(phone["access"]).get(ME_URL).status_code == 401
    assert bearer(laptop["access"]).get(ME_URL).status_code == 401
    page = browser.get("/account/")
    assert page.status_code == 302 and page["Location"].startswith("/account/login/")
    assert not Session.objects.filter(user=user, revoked_at__isnull=True).exists()


def test_password_change_ends_other_sessions_and_keeps_this_one(api_login):
    user = UserFactory()
    this, other = api_login(user), api_login(user)
    client = bearer(this["access"])

    response = client.post(
        "/api/v1/auth/password/change/",
        {"old_password": DEFAULT_PASSWORD, "new_password": "a-new-long-passphrase-42"},
        format="json",
    )

    assert response.status_code == 204
    assert client.get(ME_URL).status_code == 200
    assert bearer(other["access"]).get(ME_URL).status_code == 401
    api_login(user, password="a-new-long-passphrase-42")


def test_password_change_with_wrong_old_password_is_400(api_login):
    body = api_login(UserFactory())
    response = bearer(body["access"]).post(
        "/api/v1/auth/password/change/",
        {"old_password": "nope", "new_password": "a-new-long-passphrase-42"},
        format="json",
    )
    assert response.status_code == 400
    assert "old_password" in field_errors(response)


def test_weak_new_password_is_400_on_new_password(api_login):
    body = api_login(UserFactory())
    response = bearer(body["access"]).post(
        "/api/v1/auth/password/change/",
        {"old_password": DEFAULT_PASSWORD, "new_password": "123"},
        format="json",
    )
    assert response.status_code == 400
    assert "new_password" in field_errors(response)


def test_deactivated_user_loses_access_at_once(api_login):
    from accounts import services

    user = UserFactory()
    body = api_login(user)
    assert bearer(body["access"]).get(ME_URL).status_code == 200
    services.user_deactivate(user=user)
    assert bearer(body["access"]).get(ME_URL).status_code == 401


def test_user_saved_inactive_anywhere_loses_access(api_login):
    user = UserFactory()
    body = api_login(user)
    bearer(body["access"]).get(ME_URL)
    user.is_active = False
    user.save()
    assert bearer(body["access"]).get(ME_URL).status_code == 401


def test_authenticated_request_makes_no_database_query_for_auth(
    api_login, django_assert_num_queries
):
    client = bearer(api_login(UserFactory())["access"])
    for _ in range(2):
        with django_assert_num_queries(0):
            response = client.get(ME_URL)
        assert response.status_code == 200


@pytest.mark.django_db(transaction=True)
def test_first_request_after_login_is_already_warm(api_login, django_assert_num_queries):
    client = bearer(api_login(UserFactory())["access"])
    with django_assert_num_queries(0):
        assert client.get(ME_URL).status_code == 200


def test_cold_cache_falls_back_to_one_query(api_login, django_assert_num_queries):
    body = api_login(UserFactory())
    client = bearer(body["access"])
    client.get(ME_URL)
    cache_clear()
    # one read of session + user, one last_seen_at write (the once-a-minute gate is gone too)
    with django_assert_num_queries(2):
        assert client.get(ME_URL).status_code == 200
    with django_assert_num_queries(0):
        assert client.get(ME_URL).status_code == 200


def test_last_seen_is_written_at_most_once_a_minute(api_login):
    from django.core.cache import cache

    body = api_login(UserFactory())
    client = bearer(body["access"])
    client.get(ME_URL)
    long_ago = timezone.now() - timedelta(hours=1)
    Session.objects.filter(pk=body["session_id"]).update(last_seen_at=long_ago)
    client.get(ME_URL)
    assert Session.objects.get(pk=body["session_id"]).last_seen_at == long_ago  # within a minute

    cache.delete(f"accounts:seen:{body['session_id']}")  # a minute later
    client.get(ME_URL)
    seen = Session.objects.get(pk=body["session_id"]).last_seen_at
    assert seen > long_ago
    client.get(ME_URL)
    assert Session.objects.get(pk=body["session_id"]).last_seen_at == seen


def test_web_pages_of_a_fresh_login_make_no_query_for_the_session_check(
    django_assert_num_queries,
):
    user, browser = UserFactory(), Client()
    browser.force_login(user)
    # Django loads its session and user (2 queries); the device-session check adds none.
    with django_assert_num_queries(2):
        assert browser.get("/account/login/").status_code == 302


def test_me_patch_updates_the_name(api_login):
    user = UserFactory()
    client = bearer(api_login(user)["access"])
    response = client.patch(ME_URL, {"first_name": "Ada", "email": "x@example.com"}, format="json")
    assert response.status_code == 200
    assert response.json()["first_name"] == "Ada"
    assert client.get(ME_URL).json()["first_name"] == "Ada"
    user.refresh_from_db()
    assert (user.first_name, user.email != "x@example.com") == ("Ada", True)


def test_force_authenticate_still_works(user_client):
    response = user_client.get(ME_URL)
    assert response.status_code == 200
    assert response.json()["email"] == user_client.user.email
