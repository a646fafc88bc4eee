"""Production settings pass `check --deploy` and refuse to start without a secret or services."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SECRET = "x7#Kq9!vR2$mP4&wZ8*tL1^nB6@cY3%hJ5(dF0)gS-Qe7+Uu2=Ww4~Aa9Zz"
# Checked without connecting: `check` opens no database, cache or broker connection.
SERVICES = {
    "DATABASE_URL": "postgres://shop@db.internal:5432/shop",
    "REDIS_URL": "redis://cache.internal:6379/0",
    "CELERY_BROKER_URL": "redis://cache.internal:6379/1",
}


def _run(*args, **env):
    full_env = {
        k: v for k, v in os.environ.items() if not k.startswith("DJANGO_") and k not in SERVICES
    }
    full_env.update(env)
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_production_settings_pass_check_deploy_without_warnings():
    result = _run(
        "check",
        "--deploy",
        "--fail-level",
        "WARNING",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="shop.example.com",
        **SERVICES,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _run(
        "check", DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="shop.example.com", **SERVICES
    )
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr


@pytest.mark.parametrize("missing", sorted(SERVICES))
def test_production_refuses_to_start_without_each_service(missing):
    present = {name: url for name, url in SERVICES.items() if name != missing}
    result = _run(
        "check",
        DJANGO_ENV="production",
        DJANGO_SECRET_KEY=SECRET,
        DJANGO_ALLOWED_HOSTS="shop.example.com",
        **present,
    )
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert missing in result.stderr
    for other in present:
        assert f"needs {other}" not in result.stderr and f", {other}" not in result.stderr


def test_development_still_falls_back_without_services():
    result = _run("check")
    assert result.returncode == 0, result.stdout + result.stderr
