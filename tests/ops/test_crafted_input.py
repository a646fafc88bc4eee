"""Crafted input is answered with a 4xx in the API's error shape, never a 500 or an HTML page."""

import pytest
from django.test import Client
from rest_framework.test import APIClient

from tests.factories import CategoryFactory, ProductFactory, UserFactory
from tests.helpers import error_code
from tests.orders.factories import place_order, stocked_product

pytestmark = pytest.mark.django_db


@pytest.fixture
def shopper():
    return UserFactory()


@pytest.fixture
def api(shopper):
    client = APIClient(raise_request_exception=False)
    client.force_authenticate(user=shopper)
    return client


@pytest.fixture
def pages(shopper):
    client = Client(raise_request_exception=False)
    client.force_login(shopper)
    return client


def _assert_api_error(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert isinstance(body["detail"], str) and body["detail"]
    if code is not None:
        assert error_code(response) == code


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/a%00b/",
        "/api/v1/categories/a%00b/",
        "/api/v1/orders/a%00b/",
        "/api/v1/orders/a%00b/payments/",
        "/api/v1/cart/items/1%00/",
        "/api/v1/a%00b/",
    ],
)
def test_nul_in_an_api_path_is_not_found(api, path):
    _assert_api_error(api.get(path), 404, "not_found")


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/products/?search=a%00b",
        "/api/v1/products/?category=a%00b",
        "/api/v1/orders/?status=a%00b",
        "/api/v1/products/?ordering=%00",
        "/api/v1/products/?page=1%00",
    ],
)
def test_nul_in_an_api_query_string_is_invalid(api, path):
    _assert_api_error(api.get(path), 400)


def test_nul_in_a_known_order_number_is_still_not_found(api, shopper):
    order = place_order(shopper, {stocked_product(): 1})
    _assert_api_error(api.get(f"/api/v1/orders/{order.number}%00/payments/"), 404, "not_found")


@pytest.mark.parametrize(
    "path", ["/orders/a%00b/", "/orders/a%00b/pay/", "/products/a%00b/", "/catalog/a%00b/"]
)
def test_nul_in_a_page_path_is_not_found(pages, path):
    assert pages.get(path).status_code == 404


@pytest.mark.parametrize("path", ["/?q=a%00b", "/?category=a%00b", "/orders/?status=%00"])
def test_nul_in_a_page_query_string_is_a_bad_request(pages, path):
    assert pages.get(path).status_code == 400


@pytest.mark.parametrize("depth", [40, 1_000, 100_000])
@pytest.mark.parametrize(
    "method, path",
    [
        ("post", "/api/v1/auth/login/"),
        ("patch", "/api/v1/auth/me/"),
        ("post", "/api/v1/cart/items/"),
    ],
)
def test_json_nested_too_deeply_is_a_parse_error(api, method, path, depth):
    body = '{"a":' * depth + "1" + "}" * depth
    response = getattr(api, method)(path, body, content_type="application/json")
    _assert_api_error(response, 400, "parse_error")


def test_json_nested_within_the_limit_reaches_the_serializer(api):
    body = '{"email": ' + "[" * 20 + '"x"' + "]" * 20 + ', "password": "p"}'
    response = api.post("/api/v1/auth/login/", body, content_type="application/json")
    assert response.status_code == 400
    assert error_code(response) != "parse_error"


def test_a_body_over_the_upload_limit_is_413_in_the_error_shape(api, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024
    body = '{"email": "' + "x" * (2 * 1024 * 1024) + '"}'
    response = api.post("/api/v1/auth/login/", body, content_type="application/json")
    _assert_api_error(response, 413, "request_too_large")


def test_a_broken_multipart_upload_is_400_in_the_error_shape(settings):
    """The one multipart endpoint (product image) answers a crafted body with the error shape."""
    product = ProductFactory()
    staff = APIClient(raise_request_exception=False)
    staff.force_authenticate(UserFactory(is_staff=True, is_superuser=True))
    path = f"/api/v1/products/{product.slug}/image/"
    for body, content_type in (
        ("--x\r\nbroken", "multipart/form-data; boundary=x"),
        ("--x\r\nbroken", "multipart/form-data"),
    ):
        _assert_api_error(staff.post(path, body, content_type=content_type), 400)
    settings.DATA_UPLOAD_MAX_NUMBER_FIELDS = 10
    fields = "".join(
        f"--x\r\nContent-Disposition: form-data; name=f{i}\r\n\r\n1\r\n" for i in range(50)
    )
    response = staff.post(
        path, fields + "--x--\r\n", content_type="multipart/form-data; boundary=x"
    )
    _assert_api_error(response, 400, "bad_request")


@pytest.mark.parametrize(
    "body, content_type, status, code",
    [
        ("{bad", "application/json", 400, "parse_error"),
        ("\xff\xfe", "application/json", 400, "parse_error"),
        ('{"email": "a"}', "application/json; charset=no-such-charset", 400, None),
        ("email=a", "text/plain", 415, "unsupported_media_type"),
        ("email=a", "application/xml", 415, "unsupported_media_type"),
        ("email=a", "application/x-www-form-urlencoded", 415, "unsupported_media_type"),
        ("--x\r\nbroken", "multipart/form-data; boundary=x", 415, "unsupported_media_type"),
    ],
)
def test_bad_bodies_and_content_types_get_the_error_shape(api, body, content_type, status, code):
    response = api.post("/api/v1/auth/login/", body, content_type=content_type)
    _assert_api_error(response, status, code)


def test_unknown_api_path_and_wrong_method_keep_the_error_shape(api):
    _assert_api_error(api.get("/api/v1/no-such-thing/"), 404, "not_found")
    _assert_api_error(api.put("/api/v1/auth/login/", {}), 405, "method_not_allowed")


def test_category_with_nul_in_a_filter_keeps_working_for_real_slugs(api):
    CategoryFactory(slug="coffee")
    assert api.get("/api/v1/products/?category=coffee").status_code == 200
