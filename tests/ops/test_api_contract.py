"""Answers every operation can give, and error fields, are exactly what the schema says.

- an error body carries only the fields its schema lists (the extra `lines` and `products`
  of the 409s included), so the fuzz's response_schema_conformance catches any other;
- 503 `service_unavailable` (with `Retry-After`) and 500 `server_error`: the shared
  responses every operation refers to, answered by every operation;
- no `Accept` header gets a 406: what cannot be satisfied is answered in JSON (the report
  CSV views answer CSV);
- a method an operation does not have answers 405 in the error shape, with `Allow`;
- a Host the server does not serve answers 400 `bad_request` in JSON under /api/ (the HTML
  page elsewhere).
"""

import logging
import re
from unittest import mock

import pytest
from django.db import OperationalError
from django.test import Client
from rest_framework.test import APIClient
from rest_framework.views import APIView

from inventory import services as inventory_services
from tests.factories import UserFactory
from tests.ops.contract import (
    body_problems,
    documented_response,
    operations,
    response_problems,
    served_schema,
)
from tests.orders.factories import ADDRESS, place_order, stocked_product

pytestmark = pytest.mark.django_db

METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def schema():
    return served_schema()


@pytest.fixture(autouse=True)
def _quiet():
    """Every operation answering 500/503/400 would log a traceback (with locals) each."""
    logging.disable(logging.CRITICAL)
    yield
    logging.disable(logging.NOTSET)


@pytest.fixture
def staff():
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory(is_staff=True, is_superuser=True))
    return client


def _concrete(template: str) -> str:
    return re.sub(r"\{\w+\}", "1", template)


def _assert_documented(schema, method, path, response):
    problems = response_problems(schema, method, path, response)
    assert not problems, "\n".join(problems)


# ------------------------------------------------------------------------------
# Extra error fields
# ------------------------------------------------------------------------------
def _checkout(client):
    return client.post(
        "/api/v1/orders/",
        {"shipping_address": ADDRESS},
        format="json",
        headers={"Idempotency-Key": "contract-1"},
    )


def test_checkout_conflicts_carry_only_documented_fields(schema):
    shopper = UserFactory()
    client = APIClient()
    client.force_authenticate(shopper)
    gone = stocked_product(on_hand=5)
    client.post("/api/v1/cart/items/", {"product": gone.pk, "quantity": 1})
    gone.active = False
    gone.save()
    unavailable = _checkout(client)
    assert unavailable.status_code == 409
    assert unavailable.json()["code"] == "product_unavailable"
    assert unavailable.json()["products"] == [gone.pk]
    _assert_documented(schema, "post", "/api/v1/orders/", unavailable)

    client.delete(f"/api/v1/cart/items/{client.get('/api/v1/cart/').json()['items'][0]['id']}/")
    scarce = stocked_product(on_hand=1)
    client.post("/api/v1/cart/items/", {"product": scarce.pk, "quantity": 1})
    place_order(UserFactory(), {scarce: 1})  # the last unit goes to someone else
    short = _checkout(client)
    assert short.status_code == 409
    assert short.json()["lines"] == [{"product": scarce.pk, "requested": 1, "available": 0}]
    _assert_documented(schema, "post", "/api/v1/orders/", short)


def test_adjusting_below_reserved_carries_only_documented_fields(schema, staff):
    product = stocked_product(on_hand=2)
    place_order(UserFactory(), {product: 2})
    item = inventory_services.stock_item_for_product(product=product)
    path = f"/api/v1/inventory/stock/{item.pk}/adjust/"
    response = staff.post(path, {"delta": -1, "reason": "damaged"}, format="json")
    assert response.status_code == 409, response.content
    assert response.json()["code"] == "insufficient_stock"
    assert response.json()["lines"] == [{"product": product.pk, "requested": 1, "available": 0}]
    _assert_documented(schema, "post", path, response)


def test_an_undocumented_error_field_fails_the_schema(schema):
    """What the fuzz's response_schema_conformance relies on: error bodies are closed."""
    conflict = documented_response(schema, "post", "/api/v1/orders/", 409)
    body_schema = conflict["content"]["application/json"]["schema"]
    documented = {"detail": "Not enough.", "code": "insufficient_stock", "lines": []}
    assert body_problems(schema, body_schema, documented) == []
    assert body_problems(schema, body_schema, {**documented, "secret": "x"})
    assert body_problems(schema, body_schema, {**documented, "code": "no_such_code"})
    # `fields` belongs to 400 `invalid` only.
    assert body_problems(schema, body_schema, {**documented, "fields": {}})
    for method, path, operation in operations(schema):
        for status in operation["responses"]:
            if status >= "400":
                response = documented_response(schema, method, path, status)
                narrowed = response["content"]["application/json"]["schema"]["allOf"][1]
                assert narrowed["additionalProperties"] is False, f"{method} {path} {status}"


# ------------------------------------------------------------------------------
# 503 and 500: every operation
# ------------------------------------------------------------------------------
def _every_operation(schema, client):
    for method, template, _operation in operations(schema):
        path = _concrete(template)
        yield method, template, client.generic(method.upper(), path, "{}", "application/json")


def test_a_lost_database_answers_the_documented_503_on_every_operation(schema, staff):
    lost = OperationalError("connection to server at 127.0.0.1 failed: Connection refused")
    with mock.patch.object(APIView, "initial", side_effect=lost):
        for method, template, response in _every_operation(schema, staff):
            assert response.status_code == 503, f"{method} {template}: {response.content}"
            assert int(response["Retry-After"]) > 0
            assert response.json()["code"] == "service_unavailable"
            _assert_documented(schema, method, template, response)
    shared = schema["components"]["responses"]["ServiceUnavailable"]
    assert "Retry-After" in shared["headers"]


def test_a_bug_answers_the_documented_500_on_every_operation(schema, staff):
    with mock.patch.object(APIView, "initial", side_effect=RuntimeError("a bug")):
        for method, template, response in _every_operation(schema, staff):
            assert response.status_code == 500, f"{method} {template}: {response.content}"
            assert response.json() == {"detail": "Server error.", "code": "server_error"}
            _assert_documented(schema, method, template, response)


def test_a_database_lost_mid_query_answers_503(schema):
    """Not only at the start of a view: a query refused by a lost server answers the same."""
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(UserFactory())
    lost = OperationalError("server closed the connection unexpectedly")
    with mock.patch("django.db.backends.utils.CursorWrapper.execute", side_effect=lost):
        response = client.get("/api/v1/orders/")
    assert response.status_code == 503
    _assert_documented(schema, "get", "/api/v1/orders/", response)


# ------------------------------------------------------------------------------
# Content negotiation: never 406
# ------------------------------------------------------------------------------
@pytest.mark.parametrize("accept", ["text/csv", "application/xml", "text/html", "image/png"])
def test_no_accept_header_gets_a_406(schema, staff, accept):
    stocked_product()
    for method, template, _operation in operations(schema):
        if method != "get":
            continue
        response = staff.get(_concrete(template), HTTP_ACCEPT=accept)
        assert response.status_code != 406, f"{template} ({accept})"
        csv = template.endswith("/csv/") and response.status_code == 200
        expected = "text/csv" if csv else "application/json"
        assert response["Content-Type"].startswith(expected), f"{template} ({accept})"
        _assert_documented(schema, method, template, response)


def test_report_csv_views_serve_csv_when_asked(schema, staff):
    for path in ("/api/v1/reports/orders/csv/", "/api/v1/reports/inventory/csv/"):
        response = staff.get(path, HTTP_ACCEPT="text/csv")
        assert response.status_code == 200
        assert response["Content-Type"].startswith("text/csv")
        assert response.content.decode().splitlines()[0]
        _assert_documented(schema, "get", path, response)
    refused = staff.get("/api/v1/reports/orders/csv/?start=2026-02-01&end=2026-01-01")
    assert refused.status_code == 400
    assert refused.json()["code"] == "invalid_date_range"


def test_an_unknown_format_parameter_is_ignored(staff):
    response = staff.get("/api/v1/auth/me/?format=xml")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")


# ------------------------------------------------------------------------------
# 405: a method the path does not have
# ------------------------------------------------------------------------------
def test_methods_a_path_does_not_have_answer_405_in_the_error_shape(schema, staff, monkeypatch):
    monkeypatch.setattr(APIView, "check_throttles", lambda self, request: None)
    checked = 0
    for template, item in schema["paths"].items():
        documented = {method for method in item if method in METHODS}
        for method in sorted(set(METHODS) - documented):
            response = staff.generic(method.upper(), _concrete(template), "{}", "application/json")
            label = f"{method.upper()} {template}"
            assert response.status_code == 405, f"{label}: {response.content}"
            assert response["Content-Type"].startswith("application/json"), label
            assert response.json()["code"] == "method_not_allowed", label
            assert set(response.json()) == {"detail", "code"}, label
            allowed = {m.strip().lower() for m in response["Allow"].split(",")}
            assert documented <= allowed, f"{label}: Allow {response['Allow']}"
            assert not (allowed & set(METHODS)) - documented, f"{label}: Allow {response['Allow']}"
            checked += 1
    assert checked > 50


def test_the_api_description_names_the_generic_statuses(schema):
    description = schema["info"]["description"]
    for words in ("405", "method_not_allowed", "Allow", "Accept", "503", "Retry-After"):
        assert words in description, words


# ------------------------------------------------------------------------------
# 400 for a bad Host (and other SuspiciousOperation outside the views)
# ------------------------------------------------------------------------------
def test_a_disallowed_host_gets_json_under_the_api_and_a_page_elsewhere(schema):
    client = Client(raise_request_exception=False)
    for method, template, _operation in operations(schema):
        response = client.generic(method.upper(), _concrete(template), HTTP_HOST="evil.example")
        assert response.status_code == 400, f"{method} {template}"
        assert response.json() == {"detail": "Malformed request.", "code": "bad_request"}
        _assert_documented(schema, method, template, response)
    unknown = client.get("/api/v1/no-such-thing/", HTTP_HOST="evil.example")
    assert (unknown.status_code, unknown.json()["code"]) == (400, "bad_request")

    page = client.get("/", HTTP_HOST="evil.example")
    assert page.status_code == 400
    assert page["Content-Type"].startswith("text/html")
    nul = client.get("/?q=a%00b")  # CraftedInputMiddleware's SuspiciousOperation on a page
    assert nul.status_code == 400 and nul["Content-Type"].startswith("text/html")


def test_a_nul_in_any_query_string_gets_the_documented_400(schema, staff):
    for method, template, _operation in operations(schema):
        response = staff.generic(method.upper(), _concrete(template) + "?q=a%00b")
        assert response.status_code == 400, f"{method} {template}"
        assert response.json()["code"] == "bad_request"
        _assert_documented(schema, method, template, response)
