"""/healthz names dead workers and a stale beat; a lost database answers 503, not 500."""

import time
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client

from config.celery import app as celery_app
from observability import heartbeat
from observability.tasks import beat_heartbeat

pytestmark = pytest.mark.django_db


@pytest.fixture
def real_broker(settings):
    """Health as with a broker configured; the broker itself answers (checked elsewhere)."""
    settings.CELERY_TASK_ALWAYS_EAGER = False
    settings.HEALTHZ_WORKER_TIMEOUT_SECONDS = 0.1
    settings.HEALTHZ_BEAT_MAX_AGE_SECONDS = 30
    with mock.patch("config.health._check_broker", return_value="ok"):
        yield


def test_workers_answering_and_a_fresh_heartbeat_are_ok(client, real_broker):
    beat_heartbeat.apply()
    pongs = [{"w1@host": {"ok": "pong"}}, {"w2@host": {"ok": "pong"}}]
    with mock.patch.object(celery_app.control, "ping", return_value=pongs) as ping:
        response = client.get("/healthz")
    ping.assert_called_once_with(timeout=0.1)
    assert response.status_code == 200
    body = response.json()
    assert body["workers"] == "ok" and body["workers_answering"] == 2
    assert body["beat"] == "ok" and body["beat_heartbeat_age_seconds"] < 5


def test_no_worker_answering_is_reported_but_stays_200(client, real_broker):
    beat_heartbeat.apply()
    with mock.patch.object(celery_app.control, "ping", return_value=[]):
        response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json()["workers"] == "error: no worker answered within 0.1 s"


def test_a_stale_or_missing_heartbeat_means_the_beat_is_down(client, real_broker):
    with mock.patch.object(celery_app.control, "ping", return_value=[]):
        assert client.get("/healthz").json()["beat"] == "error: no heartbeat recorded"
        heartbeat.beat_heartbeat_write()
        with mock.patch("observability.heartbeat.time.time", return_value=time.time() + 45):
            body = client.get("/healthz").json()
    assert body["beat"].startswith("error: last heartbeat 4")


def test_the_beat_schedules_the_heartbeat(settings):
    entry = settings.CELERY_BEAT_SCHEDULE["observability-beat-heartbeat"]
    assert entry["task"] == "observability.tasks.beat_heartbeat"
    assert entry["schedule"].total_seconds() == settings.BEAT_HEARTBEAT_SECONDS


def _lost_database(*args, **kwargs):
    raise OperationalError("connection to server at 127.0.0.1 failed: Connection refused")


def test_a_lost_database_answers_503_in_the_api_error_shape():
    client = Client(raise_request_exception=False)
    with mock.patch("catalog.api.ProductViewSet.get_queryset", side_effect=_lost_database):
        response = client.get("/api/v1/products/")
    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response.json() == {
        "detail": "The service is briefly unavailable; try again in a moment.",
        "code": "service_unavailable",
    }
    assert response["X-Request-ID"]


def test_a_lost_database_answers_a_503_page():
    client = Client(raise_request_exception=False)
    client.cookies["sessionid"] = "x" * 32  # loading the session needs the database
    with mock.patch(
        "django.contrib.sessions.backends.db.SessionStore.load", side_effect=_lost_database
    ):
        response = client.get("/")
    assert response.status_code == 503
    assert b"Back in a moment" in response.content


def test_other_errors_under_the_api_stay_500_in_the_error_shape():
    client = Client(raise_request_exception=False)
    with mock.patch("catalog.api.ProductViewSet.get_queryset", side_effect=RuntimeError("bug")):
        response = client.get("/api/v1/products/")
    assert response.status_code == 500
    assert response.json() == {"detail": "Server error.", "code": "server_error"}


def test_a_lost_redis_answers_503_where_a_request_needs_it():
    from redis.exceptions import ConnectionError as RedisConnectionError

    client = Client(raise_request_exception=False)
    with mock.patch(
        "catalog.api.ProductViewSet.get_queryset", side_effect=RedisConnectionError("refused")
    ):
        response = client.get("/api/v1/products/")
    assert response.status_code == 503
    assert response.json()["code"] == "service_unavailable"


def test_throttles_let_requests_through_while_the_cache_is_down(client, settings):
    from redis.exceptions import ConnectionError as RedisConnectionError

    with mock.patch(
        "rest_framework.throttling.SimpleRateThrottle.cache", new_callable=mock.MagicMock
    ) as cache:
        cache.get.side_effect = RedisConnectionError("refused")
        response = client.get("/api/v1/products/")
    assert response.status_code == 200
    assert cache.get.called  # the throttle tried, failed, and let the request through
