"""With the cache down, authentication falls back to the database and stays correct."""

from unittest import mock

import pytest

from accounts.models import Session
from tests.accounts.conftest import ME_URL, bearer
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def _cache_down():
    return mock.patch(
        "accounts.selectors.cache.get_many", side_effect=ConnectionError("redis is down")
    )


def test_requests_are_served_from_the_database_when_the_cache_is_down(api_login):
    user = UserFactory()
    tokens = api_login(user)
    with _cache_down():
        response = bearer(tokens["access"]).get(ME_URL)
    assert response.status_code == 200
    assert response.json()["email"] == user.email


def test_a_revoked_session_stays_refused_when_the_cache_is_down(api_login):
    user = UserFactory()
    tokens = api_login(user)
    client = bearer(tokens["access"])
    assert client.post("/api/v1/auth/logout/").status_code == 204
    assert Session.objects.get(pk=tokens["session_id"]).revoked_at is not None
    with _cache_down():
        response = client.get(ME_URL)
    assert response.status_code == 401
