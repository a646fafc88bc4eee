import pytest

from catalog.models import Category
from tests.factories import CategoryFactory, ProductFactory
from tests.helpers import field_errors

pytestmark = pytest.mark.django_db

LIST = "/api/v1/categories/"


def test_categories_are_a_tree_friendly_list(api_client):
    root = CategoryFactory(name="Coffee", slug="coffee")
    CategoryFactory(name="Beans", slug="beans", parent=root)
    body = api_client.get(LIST).json()
    assert body == [
        {"id": root.pk, "name": "Coffee", "slug": "coffee", "parent": None},
        {"id": root.pk + 1, "name": "Beans", "slug": "beans", "parent": root.pk},
    ] or {c["slug"]: c["parent"] for c in body} == {"coffee": None, "beans": root.pk}


def test_only_staff_writes_categories(api_client, user_client, staff_client):
    assert api_client.post(LIST, {"name": "Tea"}).status_code == 401
    assert user_client.post(LIST, {"name": "Tea"}).status_code == 403
    created = staff_client.post(LIST, {"name": "Green Tea"})
    assert created.status_code == 201
    assert created.json()["slug"] == "green-tea"


def test_a_category_cannot_move_below_itself(staff_client):
    root = CategoryFactory(slug="root")
    child = CategoryFactory(slug="child", parent=root)
    response = staff_client.patch(f"{LIST}root/", {"parent": child.pk})
    assert response.status_code == 400
    assert "parent" in field_errors(response)
    root.refresh_from_db()
    assert root.parent is None


def test_a_category_with_products_is_not_deleted(staff_client):
    category = CategoryFactory(slug="busy")
    ProductFactory(category=category)
    response = staff_client.delete(f"{LIST}busy/")
    assert response.status_code == 409
    assert response.json()["code"] == "category_in_use"
    assert Category.objects.filter(slug="busy").exists()
