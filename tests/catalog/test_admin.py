"""The catalog admin writes through catalog services: no category cycles, thumbnails made."""

from io import BytesIO

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from PIL import Image

from catalog import selectors
from catalog import services as catalog_services
from catalog.models import Category, Product
from outbox.models import OutboxMessage
from tests.factories import CategoryFactory, ProductFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client():
    client = Client()
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def _category_form(category, **changes):
    data = {
        "name": category.name,
        "slug": category.slug,
        "parent": category.parent_id or "",
        "description": category.description,
        "position": category.position,
    }
    data.update(changes)
    return data


def _png(name="photo.png", size=(900, 600)):
    out = BytesIO()
    Image.new("RGB", size, (200, 30, 30)).save(out, format="PNG")
    return SimpleUploadedFile(name, out.getvalue(), content_type="image/png")


def test_moving_a_category_below_its_own_child_is_a_form_error(admin_client):
    top = CategoryFactory()
    child = CategoryFactory(parent=top)
    grandchild = CategoryFactory(parent=child)

    for below in (child, grandchild):
        response = admin_client.post(
            f"/admin/catalog/category/{top.pk}/change/", _category_form(top, parent=below.pk)
        )
        assert response.status_code == 200
        assert "cannot sit below itself" in response.content.decode()
    top.refresh_from_db()
    assert top.parent_id is None


def test_moving_a_category_elsewhere_in_the_admin_is_saved(admin_client):
    a, b = CategoryFactory(), CategoryFactory()
    response = admin_client.post(
        f"/admin/catalog/category/{a.pk}/change/", _category_form(a, parent=b.pk, name="Teas")
    )
    assert response.status_code == 302
    a.refresh_from_db()
    assert (a.parent_id, a.name) == (b.pk, "Teas")


def test_a_category_added_in_the_admin_is_saved(admin_client):
    parent = CategoryFactory()
    response = admin_client.post(
        "/admin/catalog/category/add/",
        {"name": "Green tea", "slug": "green-tea", "parent": parent.pk, "position": 2},
    )
    assert response.status_code == 302
    assert Category.objects.get(slug="green-tea").parent == parent


def test_an_image_uploaded_in_the_admin_gets_a_thumbnail(
    admin_client, django_capture_on_commit_callbacks
):
    category = CategoryFactory()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            "/admin/catalog/product/add/",
            {
                "sku": "TEA-1",
                "slug": "sencha",
                "name": "Sencha",
                "description": "Green.",
                "category": category.pk,
                "price": "7.50",
                "active": "on",
                "image": _png(),
            },
        )
    assert response.status_code == 302, response.content[:2000]
    product = Product.objects.get(sku="TEA-1")
    assert product.thumbnail.name.endswith("-thumb.jpg")
    with Image.open(product.thumbnail.path) as thumb:
        assert max(thumb.size) == 400
    assert not OutboxMessage.objects.exists()  # sent, not left behind


def test_replacing_an_image_in_the_admin_makes_a_new_thumbnail(
    admin_client, django_capture_on_commit_callbacks, monkeypatch
):
    product = ProductFactory()
    data = {
        "sku": product.sku,
        "slug": product.slug,
        "name": product.name,
        "description": product.description,
        "category": product.category_id,
        "price": str(product.price),
        "active": "on",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(
            f"/admin/catalog/product/{product.pk}/change/", {**data, "image": _png("new.png")}
        )
    assert response.status_code == 302
    product.refresh_from_db()
    assert product.image.name.startswith("products/new")
    assert product.thumbnail.name.endswith("-thumb.jpg")

    queued = []
    monkeypatch.setattr(catalog_services, "task_enqueue", lambda *args: queued.append(args))
    admin_client.post(f"/admin/catalog/product/{product.pk}/change/", {**data, "name": "X"})
    product.refresh_from_db()
    assert product.name == "X"
    assert queued == []  # the image did not change: no new thumbnail


def test_the_tree_walk_ends_on_a_cycle_already_in_the_database(api_client):
    a = CategoryFactory(slug="a")
    b = CategoryFactory(slug="b", parent=a)
    c = CategoryFactory(slug="c", parent=b)
    product = ProductFactory(category=c)
    Category.objects.filter(pk=a.pk).update(parent=c)  # bad data: a -> c -> b -> a

    assert sorted(selectors.category_descendant_ids(category=a)) == sorted([a.pk, b.pk, c.pk])
    response = api_client.get("/api/v1/products/?category=b")
    assert response.status_code == 200
    assert [item["sku"] for item in response.json()["results"]] == [product.sku]
    assert Client().get("/?category=a").status_code == 200
