import pytest
from django.test import Client

from accounts.models import AuthEvent, Session
from tests.factories import UserFactory

from .conftest import ME_URL, bearer

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(staff_user):
    client = Client()
    client.force_login(staff_user)
    return client


def test_staff_revokes_a_session_in_the_admin(admin_client_, api_login):
    body = api_login(UserFactory())
    response = admin_client_.post(
        "/admin/accounts/session/",
        {"action": "revoke", "_selected_action": [body["session_id"]]},
    )
    assert response.status_code == 302
    assert bearer(body["access"]).get(ME_URL).status_code == 401
    assert Session.objects.get(pk=body["session_id"]).revoke_reason == "staff"


def test_deactivating_a_user_in_the_admin_ends_its_sessions(admin_client_, api_login):
    user = UserFactory()
    body = api_login(user)
    assert admin_client_.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "email_verified": "on",
        "auth_sessions-TOTAL_FORMS": "1",
        "auth_sessions-INITIAL_FORMS": "1",
        "auth_sessions-MIN_NUM_FORMS": "0",
        "auth_sessions-MAX_NUM_FORMS": "0",
        "auth_sessions-0-id": body["session_id"],
        "auth_sessions-0-user": str(user.pk),
    }
    response = admin_client_.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    user.refresh_from_db()
    assert not user.is_active
    assert bearer(body["access"]).get(ME_URL).status_code == 401
    assert AuthEvent.objects.filter(kind="user_deactivated", user=user).exists()


def test_user_admin_inline_revoke_checkbox(admin_client_, api_login):
    user = UserFactory()
    body = api_login(user)
    assert admin_client_.get(f"/admin/accounts/user/{user.pk}/change/").status_code == 200
    data = {
        "email": user.email,
        "first_name": user.first_name,
        "last_name": user.last_name,
        "is_active": "on",
        "email_verified": "on",
        "auth_sessions-TOTAL_FORMS": "1",
        "auth_sessions-INITIAL_FORMS": "1",
        "auth_sessions-MIN_NUM_FORMS": "0",
        "auth_sessions-MAX_NUM_FORMS": "0",
        "auth_sessions-0-id": body["session_id"],
        "auth_sessions-0-user": str(user.pk),
        "auth_sessions-0-revoke": "on",
    }
    response = admin_client_.post(f"/admin/accounts/user/{user.pk}/change/", data)
    assert response.status_code == 302
    assert bearer(body["access"]).get(ME_URL).status_code == 401


def test_auth_events_are_listed_read_only_and_filterable(admin_client_, api_login):
    api_login(UserFactory())
    listing = admin_client_.get("/admin/accounts/authevent/?kind__exact=login")
    assert listing.status_code == 200
    assert b"Login" in listing.content
    event = AuthEvent.objects.first()
    assert admin_client_.get("/admin/accounts/authevent/add/").status_code == 403
    detail = admin_client_.get(f"/admin/accounts/authevent/{event.pk}/change/")
    assert detail.status_code == 200 and b'name="_save"' not in detail.content
    assert admin_client_.get("/admin/accounts/session/?state=active").status_code == 200
