"""Browsers on configured origins may call the API; no other origin gets CORS headers."""

import pytest
from django.test import Client, override_settings

from tests.factories import DEFAULT_PASSWORD, UserFactory

SPA = "http://localhost:5173"
pytestmark = pytest.mark.django_db


def _preflight(origin, headers="authorization, content-type, idempotency-key"):
    return Client().options(
        "/api/v1/orders/",
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="POST",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS=headers,
    )


@override_settings(CORS_ALLOWED_ORIGINS=[SPA])
def test_a_configured_origin_may_send_bearer_json_and_idempotency_keys():
    response = _preflight(SPA)
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SPA
    allowed = {h.strip() for h in response["Access-Control-Allow-Headers"].split(",")}
    assert {"authorization", "content-type", "idempotency-key"} <= allowed
    assert "POST" in response["Access-Control-Allow-Methods"]
    assert "Access-Control-Allow-Credentials" not in response  # tokens, not cookies


@override_settings(CORS_ALLOWED_ORIGINS=[SPA])
def test_a_configured_origin_can_log_in_and_read_the_error_headers():
    user = UserFactory()
    response = Client().post(
        "/api/v1/auth/login/",
        {"email": user.email, "password": DEFAULT_PASSWORD},
        content_type="application/json",
        HTTP_ORIGIN=SPA,
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == SPA
    exposed = response["Access-Control-Expose-Headers"].lower()
    assert "retry-after" in exposed and "www-authenticate" in exposed


@override_settings(CORS_ALLOWED_ORIGINS=[SPA])
def test_other_origins_and_the_pages_get_no_cors_headers():
    response = _preflight("https://evil.example.com")
    assert "Access-Control-Allow-Origin" not in response
    page = Client().get("/", HTTP_ORIGIN=SPA)
    assert "Access-Control-Allow-Origin" not in page


def test_no_origin_is_allowed_unless_configured():
    response = _preflight(SPA)
    assert "Access-Control-Allow-Origin" not in response
