"""Request ids and structured logs: who may set the id, what a line holds, what it never does."""

import json
import logging
import uuid

import pytest
from rest_framework.test import APIClient

from config.logging import logging_config
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "a-long-test-password-1"


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def _json_lines(records) -> list[dict]:
    """Render captured records exactly as production does (LOG_FORMAT=json)."""
    config = logging_config(log_format="json", level="INFO")["formatters"]["structured"]
    factory = config.pop("()")
    formatter = factory(**config)
    return [json.loads(formatter.format(record)) for record in records]


def test_a_request_gets_an_id_returned_in_the_response(client):
    response = client.get("/api/v1/products/")
    request_id = response["X-Request-ID"]
    assert len(request_id) == 32 and int(request_id, 16) >= 0
    assert client.get("/api/v1/products/")["X-Request-ID"] != request_id


def test_an_id_from_a_client_is_not_trusted_without_a_proxy(client):
    response = client.get("/api/v1/products/", HTTP_X_REQUEST_ID="forged-by-the-client-0001")
    assert response["X-Request-ID"] != "forged-by-the-client-0001"


def test_an_id_from_a_trusted_proxy_is_kept(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.get("/api/v1/products/", HTTP_X_REQUEST_ID="proxy-id-0123456789abcdef")
    assert response["X-Request-ID"] == "proxy-id-0123456789abcdef"


def test_the_proxy_must_be_in_the_trusted_networks_when_they_are_set(client, settings):
    settings.TRUSTED_PROXY_NETWORKS = ["10.0.0.0/8"]
    outside = client.get("/api/v1/products/", HTTP_X_REQUEST_ID="proxy-id-0123456789abcdef")
    assert outside["X-Request-ID"] != "proxy-id-0123456789abcdef"  # REMOTE_ADDR is 127.0.0.1
    inside = client.get(
        "/api/v1/products/",
        HTTP_X_REQUEST_ID="proxy-id-0123456789abcdef",
        REMOTE_ADDR="10.1.2.3",
    )
    assert inside["X-Request-ID"] == "proxy-id-0123456789abcdef"


def test_a_malformed_id_from_a_trusted_proxy_is_replaced(client, settings):
    settings.TRUSTED_PROXY_COUNT = 1
    response = client.get("/api/v1/products/", HTTP_X_REQUEST_ID="bad id\nwith a newline")
    assert response["X-Request-ID"] != "bad id\nwith a newline"
    assert "\n" not in response["X-Request-ID"]


def test_log_lines_carry_request_user_and_session_but_no_secret(caplog):
    user = UserFactory(email="logs@example.com", password=PASSWORD)
    client = APIClient()
    with caplog.at_level(logging.INFO):
        login = client.post(
            "/api/v1/auth/login/", {"email": "logs@example.com", "password": PASSWORD}
        )
        assert login.status_code == 200, login.json()
        tokens = login.json()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {tokens['access']}")
        me = client.get("/api/v1/auth/me/?token=also-secret-in-a-query")
    assert me.status_code == 200
    lines = _json_lines(caplog.records)
    text = "\n".join(json.dumps(line) for line in lines)
    for secret in (PASSWORD, tokens["access"], tokens["refresh"], "also-secret-in-a-query"):
        assert secret not in text
    finished = [
        line
        for line in lines
        if line.get("event") == "request_finished" and line.get("request_id") == me["X-Request-ID"]
    ]
    assert len(finished) == 1, lines
    line = finished[0]
    assert line["user_id"] == user.pk
    assert line["session_id"] == str(tokens["session_id"])
    assert line["code"] == 200
    assert line["level"] == "info" and line["timestamp"].endswith("Z")
    assert line["request"] == "GET /api/v1/auth/me/?token=[redacted]"


def test_console_format_is_the_development_default(settings):
    assert settings.LOG_FORMAT == "console"
    config = logging_config(log_format="console", level="INFO")
    processors = config["formatters"]["structured"]["processors"]
    assert "ConsoleRenderer" in repr(processors)


def test_an_unknown_request_id_header_value_never_reaches_a_log_line(client, caplog):
    forged = f"forged-{uuid.uuid4().hex}"
    with caplog.at_level(logging.INFO):
        client.get("/api/v1/products/", HTTP_X_REQUEST_ID=forged)
    assert forged not in "\n".join(json.dumps(line) for line in _json_lines(caplog.records))


def test_log_lines_name_the_client_behind_the_trusted_proxy(client, settings, caplog):
    settings.TRUSTED_PROXY_COUNT = 1
    with caplog.at_level(logging.INFO):
        response = client.get("/api/v1/products/", HTTP_X_FORWARDED_FOR="203.0.113.9, 198.51.100.7")
    lines = [
        line
        for line in _json_lines(caplog.records)
        if line.get("request_id") == response["X-Request-ID"] and "ip" in line
    ]
    assert lines and {line["ip"] for line in lines} == {"198.51.100.7"}
