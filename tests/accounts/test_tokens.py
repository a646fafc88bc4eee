import threading
from datetime import timedelta

import jwt
import pytest
from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone
from rest_framework.test import APIClient

from accounts import tokens
from accounts.models import AuthEvent, RefreshToken, Session
from tests.factories import UserFactory
from tests.helpers import error_code

from .conftest import ME_URL, REFRESH_URL, bearer

pytestmark = pytest.mark.django_db


def _refresh(raw):
    return APIClient().post(REFRESH_URL, {"refresh": raw}, format="json")


def _spend_before_grace(raw):
    """Mark a spent token as spent longer ago than the grace window."""
    jti = jwt.decode(raw, options={"verify_signature": False})["jti"]
    earlier = timezone.now() - timedelta(seconds=settings.REFRESH_REUSE_GRACE_SECONDS + 1)
    RefreshToken.objects.filter(jti=jti).update(used_at=earlier)


def test_refresh_rotates_the_pair_and_spends_the_old_token(api_login):
    first = api_login(UserFactory())
    response = _refresh(first["refresh"])
    assert response.status_code == 200
    second = response.json()
    assert second["session_id"] == first["session_id"]
    assert second["refresh"] != first["refresh"]
    assert bearer(second["access"]).get(ME_URL).status_code == 200
    old = RefreshToken.objects.get(
        jti=jwt.decode(first["refresh"], options={"verify_signature": False})["jti"]
    )
    assert old.used_at is not None and old.replaced_by is not None


def test_reused_refresh_token_revokes_session_and_kills_access_token(api_login):
    first = api_login(UserFactory())
    second = _refresh(first["refresh"]).json()
    third = _refresh(second["refresh"]).json()
    assert bearer(third["access"]).get(ME_URL).status_code == 200

    _spend_before_grace(first["refresh"])
    reused = _refresh(first["refresh"])

    assert (reused.status_code, reused.json()["code"]) == (401, "token_reused")
    session = Session.objects.get(pk=first["session_id"])
    assert session.revoked_at is not None and session.revoke_reason == "refresh_token_reuse"
    assert bearer(third["access"]).get(ME_URL).status_code == 401
    dead = _refresh(third["refresh"])
    assert (dead.status_code, dead.json()["code"]) == (401, "token_invalid")
    assert AuthEvent.objects.filter(kind="refresh_reuse", session=session).exists()


def test_previous_token_inside_grace_window_is_rotated_not_revoked(api_login):
    first = api_login(UserFactory())
    second = _refresh(first["refresh"]).json()
    again = _refresh(first["refresh"])
    assert (again.status_code, again.json()["code"]) == (401, "token_rotated")
    assert Session.objects.get(pk=first["session_id"]).revoked_at is None
    assert bearer(second["access"]).get(ME_URL).status_code == 200
    assert _refresh(second["refresh"]).status_code == 200


def test_older_token_inside_grace_window_is_reuse(api_login):
    first = api_login(UserFactory())
    second = _refresh(first["refresh"]).json()
    _refresh(second["refresh"])
    reused = _refresh(first["refresh"])
    assert reused.json()["code"] == "token_reused"
    assert Session.objects.get(pk=first["session_id"]).revoked_at is not None


def test_refresh_token_is_refused_as_access_token(api_login):
    body = api_login(UserFactory())
    response = bearer(body["refresh"]).get(ME_URL)
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_access_token_is_refused_as_refresh_token(api_login):
    body = api_login(UserFactory())
    response = _refresh(body["access"])
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")
    assert _refresh(body["refresh"]).status_code == 200


def test_expired_access_token_is_refused(api_login):
    user = UserFactory()
    body = api_login(user)
    raw, _ = tokens.token_issue(
        token_class=tokens.AccessToken,
        user_id=user.pk,
        session_id=body["session_id"],
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    response = bearer(raw).get(ME_URL)
    # Expired is told apart from malformed: the client refreshes, then retries.
    assert (response.status_code, error_code(response)) == (401, "token_expired")
    assert response["WWW-Authenticate"].startswith('Bearer realm="api", error="invalid_token"')


def test_malformed_access_token_is_invalid_with_rfc6750_header():
    response = bearer("not-a-token").get(ME_URL)
    assert (response.status_code, error_code(response)) == (401, "token_invalid")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_missing_token_names_no_error_in_www_authenticate():
    response = APIClient().get(ME_URL)
    assert (response.status_code, error_code(response)) == (401, "not_authenticated")
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_expired_refresh_token_answers_token_expired(api_login):
    user = UserFactory()
    body = api_login(user)
    raw, _ = tokens.token_issue(
        token_class=tokens.RefreshToken,
        user_id=user.pk,
        session_id=body["session_id"],
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    response = _refresh(raw)
    assert (response.status_code, error_code(response)) == (401, "token_expired")
    assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_refresh_answers_lifetimes_relative_to_now(api_login):
    body = api_login(UserFactory())
    fresh = _refresh(body["refresh"]).json()
    assert 0 < fresh["expires_in"] <= settings.SIMPLE_JWT["ACCESS_TOKEN_LIFETIME"].total_seconds()
    assert fresh["refresh_expires_in"] > fresh["expires_in"]


def test_expired_refresh_token_is_refused(api_login):
    body = api_login(UserFactory())
    now = timezone.now()
    Session.objects.update(
        created_at=now - timedelta(days=31), expires_at=now - timedelta(seconds=1)
    )
    response = _refresh(body["refresh"])
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")


def test_tampered_token_is_refused(api_login):
    body = api_login(UserFactory())
    header, payload, signature = body["access"].split(".")
    claims = jwt.decode(body["access"], options={"verify_signature": False})
    claims["user_id"] = claims["sub"] = "999999"
    forged_payload = jwt.encode(claims, "x" * 32, algorithm="HS256").split(".")[1]
    assert bearer(f"{header}.{forged_payload}.{signature}").get(ME_URL).status_code == 401
    assert bearer(f"{header}.{payload}.{signature[:-4]}AAAA").get(ME_URL).status_code == 401


@pytest.mark.parametrize(
    "change",
    [
        {"aud": "someone-else"},
        {"iss": "someone-else"},
    ],
    ids=["wrong-audience", "wrong-issuer"],
)
def test_token_for_another_audience_or_issuer_is_refused(api_login, change):
    body = api_login(UserFactory())
    claims = {**jwt.decode(body["access"], options={"verify_signature": False}), **change}
    raw = jwt.encode(claims, settings.SIMPLE_JWT["SIGNING_KEY"], algorithm="HS256")
    assert bearer(raw).get(ME_URL).status_code == 401


@pytest.mark.parametrize("algorithm", ["HS512", "none"])
def test_only_hs256_is_accepted(api_login, algorithm):
    body = api_login(UserFactory())
    claims = jwt.decode(body["access"], options={"verify_signature": False})
    key = None if algorithm == "none" else settings.SIMPLE_JWT["SIGNING_KEY"]
    raw = jwt.encode(claims, key, algorithm=algorithm)
    assert bearer(raw).get(ME_URL).status_code == 401


@pytest.mark.parametrize("header", ["Bearer", "Bearer a b", "Bearer not-a-jwt", "Bearer \xe9"])
def test_malformed_authorization_is_refused(header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header)
    assert client.get(ME_URL).status_code == 401


@pytest.mark.parametrize("raw", ["", "x", "a.b.c", "e" * 5000])
def test_malformed_refresh_token_is_refused(raw):
    response = _refresh(raw)
    assert response.status_code in (400, 401)


def test_refresh_slides_but_never_past_the_absolute_lifetime(api_login):
    body = api_login(UserFactory())
    session = Session.objects.get(pk=body["session_id"])
    end = timezone.now() + timedelta(hours=1)
    Session.objects.filter(pk=session.pk).update(expires_at=end)
    refreshed = _refresh(body["refresh"]).json()
    claims = jwt.decode(refreshed["refresh"], options={"verify_signature": False})
    assert claims["exp"] <= int(end.timestamp()) + 1


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_refreshes_of_one_token_give_exactly_one_success(api_login):
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks")
    body = api_login(UserFactory())
    threads, results = 8, []
    barrier = threading.Barrier(threads)

    def refresh():
        try:
            barrier.wait()
            response = _refresh(body["refresh"])
            results.append((response.status_code, response.json().get("code")))
        finally:
            close_old_connections()
            connection.close()

    workers = [threading.Thread(target=refresh) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    successes = [r for r in results if r[0] == 200]
    assert len(successes) == 1, results
    assert all(r == (401, "token_rotated") for r in results if r[0] != 200), results
    assert Session.objects.get(pk=body["session_id"]).revoked_at is None
    assert RefreshToken.objects.filter(session_id=body["session_id"]).count() == 2


def test_refresh_is_refused_once_the_user_is_deactivated(api_login):
    from accounts import services

    user = UserFactory()
    body = api_login(user)
    services.user_deactivate(user=user)
    response = _refresh(body["refresh"])
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")


def test_refresh_is_logged(api_login):
    body = api_login(UserFactory())
    _refresh(body["refresh"])
    assert AuthEvent.objects.filter(kind="refresh", session_id=body["session_id"]).count() == 1
