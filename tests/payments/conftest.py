import pytest
from django.conf import settings as django_settings
from django.test.client import ClientHandler
from rest_framework.test import APIClient

from config.handlers import LeanChainMixin
from tests.payments.factories import (
    WEBHOOK_URL,
    place_order,
    sign,
    stocked_product,
)


@pytest.fixture(autouse=True)
def _quiet_fraud_rules(settings):
    """Rules that only the fraud tests trip; each test asks for stricter ones itself."""
    settings.FRAUD_AMOUNT_THRESHOLD = "1000.00"
    settings.FRAUD_MAX_ORDERS_PER_HOUR = 10
    settings.FRAUD_MAX_DECLINES_PER_HOUR = 3
    settings.FRAUD_NEW_ACCOUNT_HOURS = 0
    settings.FRAUD_REVIEW_SCORE = 50


@pytest.fixture
def product(db):
    return stocked_product(on_hand=10, price="12.50")


@pytest.fixture
def order(user, product):
    """A pending_payment order of the `user` for 3 units of `product` (stock reserved)."""
    return place_order(user, {product: 3})


@pytest.fixture
def secret():
    return django_settings.PAYMENT_GATEWAYS["dummy"]["WEBHOOK_SECRET"]


class WebhookClientHandler(LeanChainMixin, ClientHandler):
    """The test client's handler with the webhook route's own chain (config.handlers)."""


def webhook_client() -> APIClient:
    """A test client that reaches the webhook route as config.wsgi serves it."""
    client = APIClient()
    client.handler = WebhookClientHandler(enforce_csrf_checks=False)
    return client


@pytest.fixture
def deliver(secret, django_capture_on_commit_callbacks):
    """POST a raw body to the dummy webhook URL, signed, running what is queued on commit.

    Through the chain the served route has (config.handlers), as a provider reaches it.
    """

    def post(body: bytes, *, signature: str | None = None, url: str = WEBHOOK_URL):
        client = webhook_client()
        with django_capture_on_commit_callbacks(execute=True):
            return client.generic(
                "POST",
                url,
                body,
                content_type="application/json",
                HTTP_X_SIGNATURE=sign(body, secret) if signature is None else signature,
            )

    return post


@pytest.fixture
def pay(user_client, django_capture_on_commit_callbacks):
    """Start a payment through the API as the order's owner."""

    def start(order, card, *, key=None, client=None, run_on_commit=True, **body):
        import uuid

        client = client or user_client
        with django_capture_on_commit_callbacks(execute=run_on_commit):
            return client.post(
                f"/api/v1/orders/{order.number}/payments/",
                {"gateway": "dummy", "card_number": card, **body},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key or uuid.uuid4().hex,
            )

    return start
