from datetime import timedelta

import pytest
from django.core.management import call_command
from django.utils import timezone

from accounts.models import RefreshToken, Session
from accounts.tasks import sessions_purge
from tests.factories import UserFactory

from .conftest import REFRESH_URL

pytestmark = pytest.mark.django_db


def test_purge_deletes_expired_tokens_and_old_sessions(api_login, settings):
    user = UserFactory()
    live, old = api_login(user), api_login(user)
    now = timezone.now()
    long_ago = now - timedelta(days=settings.SESSION_RETENTION_DAYS + 1)
    Session.objects.filter(pk=old["session_id"]).update(
        revoked_at=long_ago, revoke_reason="logout", created_at=long_ago - timedelta(days=1)
    )
    RefreshToken.objects.filter(session_id=live["session_id"]).update(
        issued_at=now - timedelta(days=8), expires_at=now - timedelta(days=1)
    )

    assert sessions_purge.delay().get() == {"refresh_tokens": 2, "sessions": 1}
    assert list(Session.objects.values_list("pk", flat=True)) == [
        Session.objects.get(pk=live["session_id"]).pk
    ]
    assert sessions_purge.delay().get() == {"refresh_tokens": 0, "sessions": 0}  # twice is fine


def test_purge_command(capsys):
    call_command("purge_sessions")
    assert "Deleted 0 refresh token(s) and 0 session(s)." in capsys.readouterr().out


def test_purged_refresh_token_is_refused(api_login):
    from rest_framework.test import APIClient

    body = api_login(UserFactory())
    RefreshToken.objects.all().delete()
    response = APIClient().post(REFRESH_URL, {"refresh": body["refresh"]}, format="json")
    assert (response.status_code, response.json()["code"]) == (401, "token_invalid")
