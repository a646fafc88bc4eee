"""Property-based fuzzing of the whole REST API from its own OpenAPI schema.

Schemathesis generates requests for every operation in /api/schema/ and sends them to the
WSGI app; any 5xx, or a response that does not match its documented schema, fails. The test
grows by itself as endpoints are added. It runs once as an anonymous client and once as staff.
(The schemathesis pytest plugin does not work with pytest 9 yet, so the operations are walked
here with Hypothesis directly.)
"""

from contextlib import contextmanager

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)

from accounts import services as accounts_services
from config.wsgi import application
from inventory import services as inventory_services
from tests.factories import DEFAULT_PASSWORD, CategoryFactory, ProductFactory, UserFactory
from tests.ops.contract import response_problems, served_schema

# status_code_conformance: every status the API answers is documented for that operation;
# response_schema_conformance: its body matches, `code` included (an enum per status).
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    response_schema_conformance,
    content_type_conformance,
]
EXAMPLES_PER_OPERATION = 12


@contextmanager
def _keep_test_connection():
    """Keep the test's transaction open across WSGI calls, as Django's test client does."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        yield
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


def _operations():
    with _keep_test_connection():
        schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", application)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) > 5, "the schema lost its operations"
    return operations


def _fuzz(operations, headers=None):
    failures = []
    with _keep_test_connection():
        for operation in operations:
            failures.extend(_fuzz_operation(operation, headers))
    assert not failures, "\n\n".join(failures)


def _fuzz_operation(operation, headers):
    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def run(case):
        # Schemathesis fills Authorization from the security scheme with random tokens,
        # which would stop every request at authentication: send ours or none.
        case.headers = {
            k: v for k, v in (case.headers or {}).items() if k.lower() != "authorization"
        }
        case.call_and_validate(checks=CHECKS, headers=headers)

    try:
        run()
    except Exception as exc:  # collect every failing operation, then report them all
        return [f"{operation.label}: {exc}"[:3000]]
    return []


@pytest.fixture
def catalog_data(db):
    coffee = CategoryFactory(slug="coffee")
    for product in ProductFactory.create_batch(3, category=coffee):
        stock_item = inventory_services.stock_item_for_product(product=product)
        inventory_services.stock_receive(stock_item=stock_item, quantity=50)


def test_api_never_errors_as_anonymous(catalog_data):
    _fuzz(_operations())


# Operations that may end the caller's own session run last, each with a fresh login.
SESSION_ENDING = ("/api/v1/auth/logout/", "/api/v1/auth/logout-all/", "/api/v1/auth/password/")


def _fuzz_as(user):
    def headers():
        # The fuzzer's wrong old passwords (password change) count toward the lockout.
        accounts_services.lockout_clear(email=user.email)
        pair = accounts_services.login(email=user.email, password=DEFAULT_PASSWORD)
        return {"Authorization": f"Bearer {pair.access}"}

    operations = _operations()
    ending = [op for op in operations if op.path.startswith(SESSION_ENDING)]
    others = [op for op in operations if op not in ending]
    _fuzz(others, headers=headers())
    for operation in ending:
        _fuzz([operation], headers=headers())


# ------------------------------------------------------------------------------
# Crafted input, sent to every operation in the schema (so new endpoints are covered too);
# each answer must be a 4xx that operation documents, with its documented body.
# ------------------------------------------------------------------------------
NUL = "a%00b"
DEEP_JSON = '{"a":' * 2_000 + "1" + "}" * 2_000


def _crafted_requests(operation):
    """Yield (label, method, path, body, content_type) for the crafted cases of one operation."""
    method = operation.method.lower()
    path = operation.path
    names = [parameter.name for parameter in operation.path_parameters]
    plain = path
    for name in names:
        plain = plain.replace("{" + name + "}", "1")
    for name in names:  # a NUL in each path segment in turn
        crafted = path.replace("{" + name + "}", NUL)
        for other in names:
            crafted = crafted.replace("{" + other + "}", "1")
        yield f"NUL in {{{name}}}", method, crafted, None, None
    yield "NUL in the query string", method, f"{plain}?q={NUL}&page={NUL}", None, None
    if "requestBody" in operation.definition.raw:
        yield "JSON nested 2,000 deep", method, plain, DEEP_JSON, "application/json"
        yield "broken JSON", method, plain, '{"a": ', "application/json"
        yield "unknown content type", method, plain, "a=b", "text/x-unknown"
        yield (
            "body over the size limit",
            method,
            plain,
            '"' + "x" * 3_000_000 + '"',
            ("application/json"),
        )


def _crafted_failures(operations, client):
    """Each crafted request gets a 4xx the operation documents, its body as documented."""
    schema = served_schema()
    failures = []
    for operation in operations:
        for label, method, path, body, content_type in _crafted_requests(operation):
            kwargs = {"content_type": content_type} if content_type else {}
            response = (
                getattr(client, method)(path, body, **kwargs)
                if body is not None
                else (getattr(client, method)(path))
            )
            status = response.status_code
            shaped = response.get("Content-Type", "").startswith("application/json") and {
                "detail",
                "code",
            } <= set(response.json() if status != 204 else {})
            if not (400 <= status < 500 and shaped):
                failures.append(f"{operation.label} ({label}): {status} {response.content[:200]!r}")
                continue
            # Documented for this operation (status, code enum, no undocumented field).
            problems = response_problems(schema, method, operation.path, response)
            failures.extend(f"{operation.label} ({label}): {problem}" for problem in problems)
    return failures


@pytest.mark.parametrize("who", ["anonymous", "shopper", "staff"])
def test_crafted_input_gets_a_4xx_in_the_error_shape_everywhere(catalog_data, who):
    from rest_framework.test import APIClient

    client = APIClient(raise_request_exception=False)
    if who != "anonymous":
        client.force_authenticate(UserFactory(is_staff=who == "staff", is_superuser=who == "staff"))
    operations = _operations()
    failures = _crafted_failures(operations, client)
    assert not failures, "\n".join(failures)


def test_api_never_errors_as_staff(catalog_data):
    _fuzz_as(UserFactory(is_staff=True, is_superuser=True))


def test_api_never_errors_as_shopper(catalog_data):
    _fuzz_as(UserFactory())


def test_api_never_errors_as_a_shopper_while_the_broker_is_down(catalog_data, monkeypatch):
    """Writes that queue tasks (orders, emails, alerts) still answer; the outbox keeps them."""
    from celery.app.task import Task
    from kombu.exceptions import OperationalError

    from outbox import services as outbox_services
    from outbox.models import OutboxMessage

    def refuse(self, *args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    monkeypatch.setattr(outbox_services, "_eager", lambda: False)
    monkeypatch.setattr(Task, "apply_async", refuse)
    user = UserFactory()
    _fuzz_as(user)
    # Something was queued and kept for the sweep rather than lost or turned into a 500.
    assert OutboxMessage.objects.exists()
