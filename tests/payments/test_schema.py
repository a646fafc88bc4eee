"""The OpenAPI schema describes every payments endpoint with its bodies and error answers."""

import pytest

pytestmark = pytest.mark.django_db


def test_schema_documents_the_payments_endpoints(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    paths = schema["paths"]
    start = paths["/api/v1/orders/{number}/payments/"]["post"]
    assert "requestBody" in start
    assert {"201", "200", "404", "409", "422"} <= set(start["responses"])
    assert any(p["name"] == "Idempotency-Key" for p in start["parameters"])
    listing = paths["/api/v1/orders/{number}/payments/"]["get"]["responses"]["200"]
    assert "PaginatedPaymentList" in str(listing)
    webhook = paths["/api/v1/payments/webhooks/{gateway}/"]["post"]
    assert "requestBody" in webhook and "400" in webhook["responses"]
    assert any(p["name"] == "X-Signature" for p in webhook["parameters"])
    refunds = paths["/api/v1/payments/{payment_id}/refunds/"]["post"]
    assert "requestBody" in refunds and {"201", "400", "409"} <= set(refunds["responses"])


def test_schema_documents_hosted_checkout_and_its_errors(api_client):
    schema = api_client.get("/api/schema/?format=json").json()
    start = schema["paths"]["/api/v1/orders/{number}/payments/"]["post"]
    assert {"400", "409", "502"} <= set(start["responses"])
    assert "payment_in_progress" in start["responses"]["409"]["description"]
    body = schema["components"]["schemas"]["PaymentStartRequest"]["properties"]
    assert {"return_url", "cancel_url", "card_number"} <= set(body)
    payment = schema["components"]["schemas"]["Payment"]["properties"]
    assert "redirect_url" in payment
    refunds = schema["paths"]["/api/v1/payments/{payment_id}/refunds/"]["post"]
    assert "403" in refunds["responses"]
    webhook = schema["paths"]["/api/v1/payments/webhooks/{gateway}/"]["post"]
    assert any(p["name"] == "Stripe-Signature" for p in webhook["parameters"])
