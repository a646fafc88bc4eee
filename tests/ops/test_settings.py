"""Production settings pass `check --deploy` and refuse to start without a secret."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(*args, **env):
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
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
        DJANGO_SECRET_KEY="x7#Kq9!vR2$mP4&wZ8*tL1^nB6@cY3%hJ5(dF0)gS-Qe7+Uu2=Ww4~Aa9Zz",
        DJANGO_ALLOWED_HOSTS="shop.example.com",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key():
    result = _run("check", DJANGO_ENV="production", DJANGO_ALLOWED_HOSTS="shop.example.com")
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY" in result.stderr
