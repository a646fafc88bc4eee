"""Access tokens carry `email` and `role` for clients; authorization never reads them."""

import jwt
import pytest

from tests.accounts.conftest import REFRESH_URL, bearer
from tests.factories import UserFactory
from tests.helpers import error_code

pytestmark = pytest.mark.django_db


def _claims(raw: str) -> dict:
    return jwt.decode(raw, options={"verify_signature": False})


def test_access_tokens_carry_email_and_role(api_login, api_client):
    shopper = UserFactory()
    staff = UserFactory(is_staff=True)
    shopper_claims = _claims(api_login(shopper)["access"])
    assert shopper_claims["email"] == shopper.email
    assert shopper_claims["role"] == "shopper"
    assert {"sub", "iat", "exp", "type"} <= set(shopper_claims)
    body = api_login(staff)
    assert _claims(body["access"])["role"] == "staff"
    refreshed = api_client.post(REFRESH_URL, {"refresh": body["refresh"]}, format="json").json()
    assert _claims(refreshed["access"])["role"] == "staff"


def test_a_staff_claim_grants_nothing_once_the_user_is_no_longer_staff(api_login):
    staff = UserFactory(is_staff=True, is_superuser=True)
    access = api_login(staff)["access"]
    assert _claims(access)["role"] == "staff"
    client = bearer(access)
    assert client.get("/api/v1/inventory/stock/").status_code == 200
    staff.is_staff = staff.is_superuser = False
    staff.save()
    response = client.get("/api/v1/inventory/stock/")  # same token, still says "staff"
    assert response.status_code == 403
    assert error_code(response) == "permission_denied"
