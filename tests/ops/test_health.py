from unittest import mock

import pytest
from django.db import connection

pytestmark = pytest.mark.django_db


def test_healthz_reports_every_dependency_ok(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    # Eager Celery (no broker configured): tasks run in the web process, no worker or beat.
    assert response.json() == {
        "database": "ok",
        "cache": "ok",
        "broker": "ok",
        "workers": "eager",
        "beat": "eager",
    }


def test_healthz_is_503_when_the_database_is_down(client):
    with mock.patch.object(connection, "cursor", side_effect=RuntimeError("connection refused")):
        response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"].startswith("error: RuntimeError: connection refused")
    assert body["cache"] == "ok"


def test_healthz_names_a_broken_cache_but_stays_200(client):
    with mock.patch("config.health.cache.get", return_value=None):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["cache"].startswith("error")


def test_unknown_api_paths_answer_json_404_for_every_method(client):
    for method in ("get", "post", "patch", "delete"):
        response = getattr(client, method)("/api/v1/categories/has.dot/")
        assert response.status_code == 404
        assert response.json() == {"detail": "Not found.", "code": "not_found"}
