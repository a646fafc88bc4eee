"""Every caller reads the client address through accounts.client (trusted proxies)."""

import re
from pathlib import Path

import pytest
from django.test import Client

from accounts.models import AuthEvent
from tests.factories import DEFAULT_PASSWORD, UserFactory

ROOT = Path(__file__).resolve().parents[2]
APPS = ("accounts", "catalog", "inventory", "orders", "payments", "outbox", "config")


def test_only_accounts_client_reads_the_address_headers():
    pattern = re.compile(r"REMOTE_ADDR|X_FORWARDED_FOR|X-Forwarded-For|\.get_ident\(")
    offenders = []
    for app in APPS:
        for path in (ROOT / app).rglob("*.py"):
            if path == ROOT / "accounts" / "client.py" or "migrations" in path.parts:
                continue
            for number, line in enumerate(path.read_text().splitlines(), 1):
                code = line.split("#", 1)[0]
                if (
                    pattern.search(code)
                    and '"""' not in line
                    and not line.lstrip().startswith(("DRF", "Behind"))
                ):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


@pytest.mark.django_db
def test_admin_and_page_logins_log_the_client_behind_the_trusted_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    staff = UserFactory(is_staff=True, is_superuser=True)
    shopper = UserFactory()
    proxy = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"}
    Client(**proxy).post("/admin/login/", {"username": staff.email, "password": "wrong"})
    Client(**proxy).post("/account/login/", {"email": shopper.email, "password": DEFAULT_PASSWORD})
    failed = AuthEvent.objects.get(kind=AuthEvent.Kind.LOGIN_FAILED, user=staff)
    login = AuthEvent.objects.get(kind=AuthEvent.Kind.LOGIN, user=shopper)
    assert failed.ip_address == login.ip_address == "198.51.100.7"
    assert shopper.auth_sessions.get().ip_address == "198.51.100.7"


# ------------------------------------------------------------------------------
# Fraud rules: the payment records the client's address, not the balancer's
# ------------------------------------------------------------------------------
PROXIED = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "1.2.3.4, 198.51.100.7"}


def _pay_through_the_api(user, **meta):
    from rest_framework.test import APIClient

    from payments.models import Payment
    from tests.payments.factories import CARD_OK, place_order, stocked_product

    order = place_order(user, {stocked_product(on_hand=5, price="12.50"): 1})
    client = APIClient()
    client.force_authenticate(user=user)
    response = client.post(
        f"/api/v1/orders/{order.number}/payments/",
        {"gateway": "dummy", "card_number": CARD_OK},
        format="json",
        HTTP_IDEMPOTENCY_KEY=f"fraud-ip-{order.number}",
        **meta,
    )
    assert response.status_code == 201, response.content
    return Payment.objects.get(order=order)


@pytest.mark.django_db
def test_a_payment_records_the_forwarded_client_behind_one_trusted_proxy(settings):
    settings.TRUSTED_PROXY_COUNT = 1
    payment = _pay_through_the_api(UserFactory(), **PROXIED)
    assert payment.ip_address == "198.51.100.7"  # the right-most address the proxy added


@pytest.mark.django_db
def test_a_payment_records_remote_addr_when_no_proxy_is_trusted(settings):
    settings.TRUSTED_PROXY_COUNT = 0
    settings.TRUSTED_PROXY_NETWORKS = []
    payment = _pay_through_the_api(UserFactory(), **PROXIED)
    assert payment.ip_address == "10.0.0.2"  # a forwarded header nobody vouches for is ignored


@pytest.mark.django_db
def test_the_payment_page_records_the_forwarded_client_too(settings):
    from payments.models import Payment
    from tests.payments.factories import CARD_OK, place_order, stocked_product

    settings.TRUSTED_PROXY_COUNT = 1
    user = UserFactory()
    order = place_order(user, {stocked_product(on_hand=5, price="12.50"): 1})
    client = Client(**PROXIED)
    client.force_login(user)
    response = client.post(
        f"/orders/{order.number}/pay/", {"card_number": CARD_OK, "idempotency_key": "page-1"}
    )
    assert response.status_code == 302
    assert Payment.objects.get(order=order).ip_address == "198.51.100.7"
