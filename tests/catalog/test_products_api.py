import io
from decimal import Decimal

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from PIL import Image

from catalog.models import Product
from inventory.models import StockItem
from tests.factories import CategoryFactory, ProductFactory
from tests.helpers import error_code, field_error_codes, field_errors

pytestmark = pytest.mark.django_db

LIST = "/api/v1/products/"


def _stock(product, on_hand, reserved=0):
    return StockItem.objects.update_or_create(
        product=product, defaults={"on_hand": on_hand, "reserved": reserved}
    )[0]


def test_product_list_is_paginated_and_shows_public_fields(api_client):
    ProductFactory.create_batch(3)
    response = api_client.get(LIST)
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 3
    assert set(body) == {"count", "count_capped", "next", "previous", "results"}
    assert body["count_capped"] is False
    item = body["results"][0]
    assert set(item) == {"id", "sku", "slug", "name", "price", "category", "available", "image"}
    assert item["price"] == "10.00"


def test_available_is_on_hand_minus_reserved_never_negative(api_client):
    in_stock = ProductFactory(name="A in stock")
    _stock(in_stock, on_hand=10, reserved=3)
    ProductFactory(name="B no stock row")
    sold_out = ProductFactory(name="C sold out")
    _stock(sold_out, on_hand=2, reserved=2)
    results = api_client.get(LIST, {"ordering": "name"}).json()["results"]
    assert [r["available"] for r in results] == [7, 0, 0]


def test_in_stock_filter_uses_availability(api_client):
    a = ProductFactory()
    _stock(a, on_hand=1)
    b = ProductFactory()
    _stock(b, on_hand=1, reserved=1)
    ProductFactory()
    results = api_client.get(LIST, {"in_stock": "true"}).json()["results"]
    assert [r["sku"] for r in results] == [a.sku]


def test_inactive_products_are_hidden_from_shoppers_but_visible_to_staff(
    api_client, user_client, staff_client
):
    hidden = ProductFactory(active=False)
    ProductFactory()
    assert api_client.get(LIST).json()["count"] == 1
    assert user_client.get(LIST).json()["count"] == 1
    assert api_client.get(f"{LIST}{hidden.slug}/").status_code == 404
    assert user_client.get(f"{LIST}{hidden.slug}/").status_code == 404
    assert staff_client.get(LIST).json()["count"] == 2
    detail = staff_client.get(f"{LIST}{hidden.slug}/")
    assert detail.status_code == 200
    assert detail.json()["active"] is False


def test_detail_adds_description(api_client):
    product = ProductFactory(description="Roasted on Tuesdays.")
    body = api_client.get(f"{LIST}{product.slug}/").json()
    assert body["description"] == "Roasted on Tuesdays."
    assert body["slug"] == product.slug


def test_category_filter_includes_sub_categories(api_client):
    coffee = CategoryFactory(slug="coffee")
    beans = CategoryFactory(slug="beans", parent=coffee)
    tea = CategoryFactory(slug="tea")
    ProductFactory(category=coffee, sku="C1")
    ProductFactory(category=beans, sku="C2")
    ProductFactory(category=tea, sku="T1")
    skus = {r["sku"] for r in api_client.get(LIST, {"category": "coffee"}).json()["results"]}
    assert skus == {"C1", "C2"}
    skus = {r["sku"] for r in api_client.get(LIST, {"category": "beans"}).json()["results"]}
    assert skus == {"C2"}


def test_search_matches_name_and_sku(api_client):
    ProductFactory(name="Kenya beans", sku="KEN-1")
    ProductFactory(name="Moka pot", sku="MOKA-1")
    assert [r["sku"] for r in api_client.get(LIST, {"search": "kenya"}).json()["results"]] == [
        "KEN-1"
    ]
    assert [r["sku"] for r in api_client.get(LIST, {"search": "moka-1"}).json()["results"]] == [
        "MOKA-1"
    ]


def test_price_range_and_ordering(api_client):
    for price in ("5.00", "15.00", "25.00", "35.00"):
        ProductFactory(price=Decimal(price))
    response = api_client.get(LIST, {"min_price": "10", "max_price": "30", "ordering": "-price"})
    assert [r["price"] for r in response.json()["results"]] == ["25.00", "15.00"]
    response = api_client.get(LIST, {"ordering": "price"})
    assert [r["price"] for r in response.json()["results"]] == ["5.00", "15.00", "25.00", "35.00"]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"category": "no-such-category"}, "category"),
        ({"min_price": "abc"}, "min_price"),
        ({"max_price": "-1"}, "max_price"),
        ({"min_price": "1e999"}, "min_price"),
        ({"min_price": "NaN"}, "min_price"),
        ({"min_price": "30", "max_price": "10"}, "max_price"),
        ({"ordering": "password"}, "ordering"),
    ],
)
def test_bad_filters_answer_400_naming_the_field(api_client, params, field):
    response = api_client.get(LIST, params)
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert field in field_errors(response)


def test_list_query_count_does_not_grow_with_page_size(api_client, django_assert_num_queries):
    category = CategoryFactory(slug="all")
    for product in ProductFactory.create_batch(30, category=category):
        _stock(product, on_hand=3)
    # count + page (category and stock joined); the category filter adds one lookup
    # and one read of the tree.
    with django_assert_num_queries(2):
        assert len(api_client.get(LIST, {"page_size": 5}).json()["results"]) == 5
    with django_assert_num_queries(2):
        assert len(api_client.get(LIST, {"page_size": 30}).json()["results"]) == 30
    with django_assert_num_queries(4):
        body = api_client.get(LIST, {"page_size": 30, "category": "all"}).json()
        assert len(body["results"]) == 30


def test_writes_need_a_token_and_staff(api_client, user_client):
    payload = {"sku": "NEW-1", "name": "New", "price": "1.00"}
    anonymous = api_client.post(LIST, payload)
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "not_authenticated"
    shopper = user_client.post(LIST, payload)
    assert shopper.status_code == 403
    assert shopper.json()["code"] == "permission_denied"
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_staff_creates_updates_and_deletes_a_product(staff_client):
    category = CategoryFactory(slug="gear")
    created = staff_client.post(
        LIST, {"sku": "NEW-1", "name": "Gooseneck Kettle", "price": "59.00", "category": "gear"}
    )
    assert created.status_code == 201, created.json()
    body = created.json()
    assert body["slug"] == "gooseneck-kettle"
    assert body["category"] == category.slug
    assert body["available"] == 0

    patched = staff_client.patch(f"{LIST}gooseneck-kettle/", {"price": "49.50", "active": False})
    assert patched.status_code == 200
    assert patched.json()["price"] == "49.50"
    assert Product.objects.get(sku="NEW-1").active is False

    assert staff_client.delete(f"{LIST}gooseneck-kettle/").status_code == 204
    assert not Product.objects.filter(sku="NEW-1").exists()


def test_staff_cannot_delete_a_product_that_has_stock(staff_client):
    product = ProductFactory()
    _stock(product, on_hand=1)
    response = staff_client.delete(f"{LIST}{product.slug}/")
    assert response.status_code == 409
    assert response.json()["code"] == "product_in_use"
    assert Product.objects.filter(pk=product.pk).exists()


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"sku": "X", "name": "X", "price": "-1.00"}, "price"),
        ({"sku": "X", "name": "X", "price": "abc"}, "price"),
        ({"name": "X", "price": "1.00"}, "sku"),
        ({"sku": "X", "name": "X", "price": "1.00", "category": "nope"}, "category"),
    ],
)
def test_bad_product_payloads_answer_400(staff_client, payload, field):
    response = staff_client.post(LIST, payload)
    assert response.status_code == 400
    assert field in field_errors(response)


def test_duplicate_sku_is_a_400_on_sku(staff_client):
    ProductFactory(sku="DUP-1")
    response = staff_client.post(LIST, {"sku": "DUP-1", "name": "Other", "price": "1.00"})
    assert response.status_code == 400
    assert "sku" in field_errors(response)


def test_count_is_exact_up_to_the_limit_then_capped(api_client, settings):
    settings.CATALOG_COUNT_LIMIT = 5
    ProductFactory.create_batch(7)
    body = api_client.get(LIST, {"page_size": 2}).json()
    assert body["count"] == 5
    assert body["count_capped"] is True
    assert api_client.get(LIST, {"page_size": 2, "page": 3}).status_code == 200
    assert api_client.get(LIST, {"page_size": 2, "page": 4}).status_code == 404
    settings.CATALOG_COUNT_LIMIT = 7
    body = api_client.get(LIST).json()
    assert (body["count"], body["count_capped"]) == (7, False)


def _png() -> SimpleUploadedFile:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), "red").save(buffer, format="PNG")
    return SimpleUploadedFile("red.png", buffer.getvalue(), content_type="image/png")


def test_staff_upload_a_product_image_as_multipart_and_nothing_else_is(staff_client):
    product = ProductFactory(slug="mug")
    response = staff_client.post(f"{LIST}mug/image/", {"image": _png()}, format="multipart")
    assert response.status_code == 200
    assert response.json()["image"].endswith(".png")
    product.refresh_from_db()
    assert product.image

    as_json = staff_client.post(f"{LIST}mug/image/", {"image": "red.png"}, format="json")
    assert (as_json.status_code, error_code(as_json)) == (415, "unsupported_media_type")
    as_form = staff_client.post(LIST, {"sku": "F-1", "name": "Form", "price": "1.00"}, "multipart")
    assert (as_form.status_code, error_code(as_form)) == (415, "unsupported_media_type")


def test_an_image_upload_that_is_not_a_picture_is_a_field_error(staff_client):
    ProductFactory(slug="mug")
    bogus = SimpleUploadedFile("x.png", b"not a picture", content_type="image/png")
    response = staff_client.post(f"{LIST}mug/image/", {"image": bogus}, format="multipart")
    assert response.status_code == 400
    assert field_error_codes(response) == {"image": ["invalid_image"]}
