"""The errors the schema class adds to operations (config/schema.py) are really answered.

For every operation, each such documented status is provoked the way a client would meet it,
and the answer must carry that status and one of the codes documented for it:

- 400 `parse_error`: a body that is not JSON;
- 401 `token_invalid`: a Bearer token that is not one;
- 403 `permission_denied`: a shopper on a staff operation;
- 404 `not_found`: an unknown object, a page past the last, a NUL in a path parameter;
- 413 `request_too_large`: a body over DATA_UPLOAD_MAX_MEMORY_SIZE;
- 415 `unsupported_media_type`: a body sent as text/plain;
- 429 `throttled`: every rate at zero.

The domain errors (409s, 422s, `invalid_credentials`...) are provoked by each app's tests.
"""

import re
import uuid

import pytest
from drf_spectacular.generators import SchemaGenerator
from rest_framework.test import APIClient
from rest_framework.throttling import SimpleRateThrottle

from accounts import services as accounts_services
from inventory import services as inventory_services
from orders import services as orders_services
from orders.models import Address
from payments import services as payments_services
from tests.factories import DEFAULT_PASSWORD, CategoryFactory, UserFactory
from tests.orders.factories import place_order, stocked_product

pytestmark = pytest.mark.django_db

MISSING = {"slug": "no-such-thing", "number": "NOPE-0", "id": "999999999"}


@pytest.fixture(scope="module")
def schema():
    return SchemaGenerator().get_schema(request=None, public=True)


def _operations(schema, status):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            response = operation["responses"].get(str(status))
            if response is not None:
                enum = response["content"]["application/json"]["schema"]["allOf"][1]
                yield path, method, operation, enum["properties"]["code"]["enum"]


@pytest.fixture
def world():
    """A staff member owning one of everything the paths name, and a shopper."""
    staff = UserFactory(is_staff=True, is_superuser=True)
    category = CategoryFactory(slug="coffee")
    product = stocked_product(on_hand=50, category=category)
    order = place_order(staff, {product: 1})
    paid = place_order(staff, {product: 1})
    payment, _ = payments_services.payment_start(
        order=paid,
        gateway="dummy",
        details={"card_number": "4242424242424242"},
        idempotency_key=uuid.uuid4().hex,
    )
    cart = orders_services.cart_get_or_create(user=staff)
    item = orders_services.cart_item_add(cart=cart, product_id=product.pk, quantity=1)
    stock = inventory_services.stock_item_for_product(product=product)
    address = Address.objects.create(
        user=staff,
        full_name="Sam",
        line1="1 Road",
        city="Hamburg",
        postal_code="20457",
        country="DE",
    )
    values = {
        "/categories/{slug}/": category.slug,
        "/products/{slug}/": product.slug,
        "/cart/items/{id}/": item.pk,
        "/addresses/{id}/": address.pk,
        "/inventory/stock/{id}/": stock.pk,
        "{number}": order.number,
        "{payment_id}": payment.pk,
        "{session_id}": uuid.uuid4(),
        "{gateway}": "dummy",
    }
    return {"staff": staff, "shopper": UserFactory(), "values": values}


def _url(path: str, world=None) -> str:
    """Fill the path's parameters with the world's objects, or with unknown ones."""
    url = path
    for param in re.findall(r"\{(\w+)\}", path):
        value = MISSING.get(param, "999999999")
        if world is not None:
            for marker, known in world["values"].items():
                if marker in path and (marker == f"{{{param}}}" or f"{{{param}}}" in marker):
                    value = known
        url = url.replace(f"{{{param}}}", str(value))
    return url


def _client(user=None, token=None) -> APIClient:
    client = APIClient()
    if user is not None:
        pair = accounts_services.login(email=user.email, password=DEFAULT_PASSWORD)
        token = pair.access
    if token is not None:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client


def _check(response, status, codes, label):
    assert response.status_code == status, f"{label}: {response.status_code} {response.content}"
    assert response.json()["code"] in codes, f"{label}: {response.json()}"


def _send(client, method, url, **kwargs):
    return client.generic(method.upper(), url, HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex, **kwargs)


def _caller(operation, world):
    return _client(world["staff"]) if operation.get("security") else APIClient()


def test_bodies_over_the_upload_limit_answer_413(schema, world, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    big = '{"x": "' + "x" * 4096 + '"}'
    for path, method, operation, codes in _operations(schema, 413):
        client = _caller(operation, world)
        content = operation["requestBody"]["content"]
        if "application/json" in content:
            response = _send(
                client, method, _url(path, world), data=big, content_type="application/json"
            )
        else:
            upload = getattr(client, method)  # multipart: the image upload
            response = upload(_url(path, world), {"note": "x" * 4096}, format="multipart")
        _check(response, 413, codes, f"{method.upper()} {path}")


def test_bodies_that_are_not_json_answer_415_and_400(schema, world):
    for path, method, operation, codes in _operations(schema, 415):
        url, label = _url(path, world), f"{method.upper()} {path}"
        client = _caller(operation, world)
        response = _send(client, method, url, data="hello", content_type="text/plain")
        _check(response, 415, codes, label)
        content = operation["requestBody"]["content"]
        if "application/json" in content:
            broken = _send(client, method, url, data="{", content_type="application/json")
            _check(broken, 400, ["parse_error"], label)


def test_tokens_that_are_not_tokens_answer_401(schema):
    for path, method, _operation, codes in _operations(schema, 401):
        if "token_invalid" not in codes or "token_reused" in codes:
            continue  # refresh reads its token from the body (see tests/accounts)
        response = _send(_client(token="not-a-token"), method, _url(path))
        _check(response, 401, codes, f"{method.upper()} {path}")
        assert 'error="invalid_token"' in response["WWW-Authenticate"]


def test_shoppers_get_403_on_staff_operations(schema, world):
    """A shopper, or (where a shopper is told 404: not their order) staff without the right."""
    shopper = _client(world["shopper"])
    unprivileged_staff = _client(UserFactory(is_staff=True))
    for path, method, _operation, codes in _operations(schema, 403):
        if "permission_denied" not in codes:
            continue
        url = _url(path, world)
        response = _send(shopper, method, url, data="{}", content_type="application/json")
        if response.status_code == 404 and "{" in path:
            response = _send(
                unprivileged_staff, method, url, data="{}", content_type="application/json"
            )
        _check(response, 403, codes, f"{method.upper()} {path}")


# Path parameters that name a provider, not an object: an unknown one is 400 `unknown_gateway`.
NOT_LOOKUPS = ("{gateway}",)


def test_unknown_objects_and_pages_past_the_last_answer_404(schema, world):
    staff = _client(world["staff"])
    for path, method, _operation, codes in _operations(schema, 404):
        if any(param in path for param in NOT_LOOKUPS):
            continue
        url = _url(path) if "{" in path else f"{path}?page=9999"
        response = _send(staff, method, url, data="{}", content_type="application/json")
        _check(response, 404, codes, f"{method.upper()} {path}")


def test_a_nul_in_any_path_parameter_answers_404(schema, world):
    """config.middleware.CraftedInputMiddleware: documented on every path with a parameter."""
    staff = _client(world["staff"])
    for path, method, _operation, codes in _operations(schema, 404):
        for param in re.findall(r"\{\w+\}", path):
            url = _url(path.replace(param, "a%00b"), world)
            response = _send(staff, method, url, data="{}", content_type="application/json")
            _check(response, 404, codes, f"{method.upper()} {path} (NUL in {param})")
    with_parameters = [p for p, item in schema["paths"].items() if "{" in p for _ in item]
    documented = [p for p, _m, _o, _c in _operations(schema, 404) if "{" in p]
    assert sorted(with_parameters) == sorted(documented)


def test_every_throttled_operation_answers_429_with_retry_after(schema, world, monkeypatch):
    monkeypatch.setattr(SimpleRateThrottle, "get_rate", lambda self: "0/min")
    for path, method, operation, codes in _operations(schema, 429):
        if "throttled" not in codes:
            continue
        client = _caller(operation, world)
        response = _send(
            client, method, _url(path, world), data="{}", content_type="application/json"
        )
        _check(response, 429, codes, f"{method.upper()} {path}")
        assert int(response["Retry-After"]) > 0
