"""Fixtures for the accounts tests: log in through the API, call it with a bearer token."""

import pytest
from django.core.cache import cache
from rest_framework.test import APIClient

from tests.factories import DEFAULT_PASSWORD

LOGIN_URL = "/api/v1/auth/login/"
REFRESH_URL = "/api/v1/auth/refresh/"
ME_URL = "/api/v1/auth/me/"


def bearer(access: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {access}")
    return client


@pytest.fixture
def api_login():
    """Log a user in through the API and return the response body."""

    def login(user, password=DEFAULT_PASSWORD, **extra):
        response = APIClient().post(
            LOGIN_URL, {"email": user.email, "password": password, **extra}, format="json"
        )
        assert response.status_code == 200, response.content
        return response.json()

    return login


@pytest.fixture
def mail_on_commit(django_capture_on_commit_callbacks):
    """Run on-commit callbacks (Celery email tasks, eager in tests) inside the block."""
    return lambda: django_capture_on_commit_callbacks(execute=True)


@pytest.fixture(autouse=True)
def _fast_hasher(settings):
    """Hash passwords quickly; the timing test puts Argon2 back."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def cache_clear():
    """Empty the cache, as if the markers left by recent user saves had expired."""
    if hasattr(cache, "delete_pattern"):
        cache.delete_pattern("*")
    else:
        cache.clear()
