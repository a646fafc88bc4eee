"""The webhook route as config.wsgi serves it: its own lean chain (config.handlers)."""

import io
import json
import logging
import sys

import psycopg
import pytest
from django.db import connection
from rest_framework.test import APIClient

from config.handlers import WebhookHandler
from payments.models import Payment, WebhookEvent
from tests.payments.conftest import webhook_client
from tests.payments.factories import CARD_PENDING, WEBHOOK_URL, event_body, sign

OTHER_API_URL = "/api/v1/products/"


def _wsgi(app, method: str, path: str, body: bytes = b"", headers: dict | None = None):
    """Call a WSGI application as gunicorn does; return (status code, headers, body)."""
    environ = {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "REMOTE_ADDR": "127.0.0.1",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "CONTENT_TYPE": "application/json",
        "CONTENT_LENGTH": str(len(body)),
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": True,
        "wsgi.multiprocess": True,
        "wsgi.run_once": False,
    }
    for name, value in (headers or {}).items():
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    started = {}

    def start_response(status, response_headers, exc_info=None):
        started["status"] = int(status.split()[0])
        started["headers"] = {name.lower(): value for name, value in response_headers}

    chunks = app(environ, start_response)
    try:
        content = b"".join(chunks)
    finally:
        chunks.close()
    return started["status"], started["headers"], content


@pytest.fixture
def pending_payment(order, pay):
    response = pay(order, CARD_PENDING, run_on_commit=False)
    return Payment.objects.get(pk=response.data["id"])


@pytest.mark.django_db(transaction=True)
def test_the_wsgi_application_serves_deliveries_on_the_lean_chain(pending_payment, secret):
    from config.wsgi import application

    body = event_body("payment.succeeded", pending_payment, "evt_route")
    status, headers, content = _wsgi(
        application, "POST", WEBHOOK_URL, body, {"X-Signature": sign(body, secret)}
    )
    assert status == 200, content
    assert json.loads(content) == {
        "detail": "Received.",
        "event_id": "evt_route",
        "duplicate": False,
    }
    assert headers["content-type"] == "application/json"
    assert int(headers["content-length"]) == len(content)
    assert len(headers["x-request-id"]) == 32
    # What only pages and browsers need is not on this chain.
    assert "content-security-policy" not in headers and "vary" not in headers
    assert WebhookEvent.objects.get(event_id="evt_route").processed_at is not None
    pending_payment.refresh_from_db()
    assert pending_payment.status == "succeeded"

    # Every other path takes Django's usual chain.
    status, headers, _ = _wsgi(application, "GET", OTHER_API_URL)
    assert status == 200
    assert "content-security-policy" in headers and "x-request-id" in headers


@pytest.mark.django_db
def test_the_lean_chain_answers_what_the_full_chain_answers(pending_payment, secret):
    body = event_body("payment.succeeded", pending_payment, "evt_same")
    tampered = body.replace(b'"evt_same"', b'"evt_other"')
    requests = [
        ("POST", WEBHOOK_URL, body, sign(body, secret)),  # stored (lean), duplicate (full)
        ("POST", WEBHOOK_URL, tampered, sign(body, secret)),  # invalid_signature
        ("POST", WEBHOOK_URL, body, ""),  # no signature
        ("POST", WEBHOOK_URL, b"{not json", sign(b"{not json", secret)),  # malformed
        ("POST", "/api/v1/payments/webhooks/nope/", body, sign(body, secret)),  # unknown
        ("GET", WEBHOOK_URL, b"", ""),  # method_not_allowed
        ("POST", "/api/v1/payments/webhooks/dummy/extra/", body, ""),  # not_found
        ("POST", "/api/v1/payments/webhooks/dummy", body, ""),  # no trailing slash
    ]
    for method, url, content, signature in requests:
        answers = []
        for client in (webhook_client(), APIClient()):
            response = client.generic(
                method, url, content, content_type="application/json", HTTP_X_SIGNATURE=signature
            )
            answers.append((response.status_code, response.json(), response["X-Request-ID"] != ""))
        lean, full = answers
        if url == WEBHOOK_URL and content == body and signature:
            assert lean[1]["duplicate"] is False and full[1]["duplicate"] is True
            assert lean[0] == full[0] == 200
            continue
        assert lean[0] >= 400, (url, lean)
        assert lean == full, (method, url)


@pytest.mark.django_db(transaction=True)
def test_a_connection_that_died_since_the_last_delivery_is_replaced(
    pending_payment, secret, caplog
):
    """The route skips the per-request health check; its one write is retried instead."""
    if connection.vendor != "postgresql":
        pytest.skip("terminates a PostgreSQL backend")
    handler = WebhookHandler()
    first = event_body("payment.failed", pending_payment, "evt_before", failure_code="x")
    status, _, content = _wsgi(
        handler, "POST", WEBHOOK_URL, first, {"X-Signature": sign(first, secret)}
    )
    assert status == 200, content

    # The database drops the connection between two deliveries (a restart, a network cut).
    connection.ensure_connection()
    backend = connection.connection.info.backend_pid
    db = connection.settings_dict
    with psycopg.connect(
        dbname=db["NAME"],
        user=db["USER"],
        host=db["HOST"] or None,
        port=db["PORT"] or None,
        autocommit=True,
    ) as other:
        other.execute("SELECT pg_terminate_backend(%s)", [backend])

    body = event_body("payment.succeeded", pending_payment, "evt_after")
    with caplog.at_level(logging.WARNING, logger="payments"):
        status, _, content = _wsgi(
            handler, "POST", WEBHOOK_URL, body, {"X-Signature": sign(body, secret)}
        )
    assert status == 200, content
    assert json.loads(content)["duplicate"] is False
    assert "the database connection was lost" in caplog.text
    assert WebhookEvent.objects.filter(event_id="evt_after", signature_valid=True).count() == 1
