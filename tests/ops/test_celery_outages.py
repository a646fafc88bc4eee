"""Tasks whose database went away mid-run are retried, not dropped."""

from contextlib import contextmanager
from unittest import mock

import pytest
from celery.exceptions import Retry
from django.db import OperationalError

from config.celery import OUTAGE_MAX_RETRIES, ShopTask
from config.celery import app as celery_app
from observability.tasks import beat_heartbeat


@contextmanager
def on_a_worker(task, retries=0):
    """Run `task` as a worker would (not eager, not called directly)."""
    eager = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = False
    task.push_request(retries=retries, called_directly=False)
    try:
        yield
    finally:
        task.pop_request()
        celery_app.conf.task_always_eager = eager


def test_every_project_task_has_the_outage_retry():
    celery_app.loader.import_default_modules()
    ours = [t for name, t in celery_app.tasks.items() if not name.startswith("celery.")]
    assert ours and all(isinstance(task, ShopTask) for task in ours)


@pytest.mark.parametrize("retries, countdown", [(0, 1), (3, 8), (10, 30)])
def test_a_lost_database_mid_task_queues_a_retry_with_backoff(retries, countdown):
    lost = OperationalError("server closed the connection unexpectedly")
    with (
        on_a_worker(beat_heartbeat, retries),
        mock.patch("observability.tasks.beat_heartbeat_write", side_effect=lost),
        mock.patch.object(beat_heartbeat, "retry", side_effect=Retry()) as retry,
        pytest.raises(Retry),
    ):
        beat_heartbeat()
    kwargs = retry.call_args.kwargs
    assert kwargs["countdown"] == countdown
    assert kwargs["max_retries"] == OUTAGE_MAX_RETRIES
    assert kwargs["exc"] is lost


def test_other_errors_are_not_retried_by_the_outage_rule():
    with (
        on_a_worker(beat_heartbeat),
        mock.patch("observability.tasks.beat_heartbeat_write", side_effect=ValueError("bug")),
        mock.patch.object(beat_heartbeat, "retry") as retry,
        pytest.raises(ValueError),
    ):
        beat_heartbeat()
    retry.assert_not_called()


def test_eager_mode_raises_at_once():
    lost = OperationalError("down")
    with (
        mock.patch("observability.tasks.beat_heartbeat_write", side_effect=lost),
        pytest.raises(OperationalError),
    ):
        beat_heartbeat.apply(throw=True)
