"""CSV export of orders, products, stock levels and the ledger; CSV import of products and of
stock counts (adjustments in the ledger), previewed with row errors before anything is kept."""

import csv
import io
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from catalog.models import Product
from inventory.models import StockItem, StockMovement
from tests.factories import CategoryFactory, ProductFactory
from tests.orders.factories import place_order, stocked_product
from tests.reports.factories import staff_with

pytestmark = pytest.mark.django_db


def client_for(user):
    client = Client()
    client.force_login(user)
    return client


def export(client, base, resource_prefix, fields):
    body = {"format": "0", "resource": "0"}
    body.update({f"{resource_prefix}_{name}": "on" for name in fields})
    response = client.post(f"{base}export/", body)
    assert response.status_code == 200, response.content.decode()[:3000]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode())))


def import_csv(client, base, text):
    """Upload a CSV: return the preview page and the confirmation form's hidden fields."""
    upload = SimpleUploadedFile("data.csv", text.encode(), content_type="text/csv")
    page = client.post(f"{base}import/", {"resource": "0", "format": "0", "import_file": upload})
    html = page.content.decode()
    hidden = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', html))
    return page, html, hidden


@pytest.fixture
def manager(db):
    return staff_with(
        "orders.view_order",
        "catalog.view_product",
        "catalog.add_product",
        "catalog.change_product",
        "inventory.view_stockitem",
        "inventory.add_stockitem",
        "inventory.adjust_stock",
        "inventory.view_stockmovement",
    )


def test_orders_products_stock_and_ledger_export_as_csv(manager, user):
    product = stocked_product(on_hand=5, price="4.00", name="Filter papers")
    order = place_order(user, {product: 2})
    client = client_for(manager)

    orders = export(client, "/admin/orders/order/", "orderresource", ["number", "status", "total"])
    assert orders == [
        {"number": order.number, "status": "Pending payment", "total": order.total.to_eng_string()}
    ]

    products = export(
        client, "/admin/catalog/product/", "productresource", ["sku", "name", "price"]
    )
    assert {"sku": product.sku, "name": "Filter papers", "price": "4.00"} in products

    levels = export(
        client,
        "/admin/inventory/stockitem/",
        "stocklevelresource",
        ["sku", "on_hand", "reserved", "available"],
    )
    assert {"sku": product.sku, "on_hand": "5", "reserved": "2", "available": "3"} in levels

    ledger = export(
        client,
        "/admin/inventory/stockmovement/",
        "stockmovementresource",
        ["sku", "kind", "delta_on_hand", "reference"],
    )
    assert {"sku": product.sku, "kind": "receipt", "delta_on_hand": "5", "reference": ""} in ledger
    assert {
        "sku": product.sku,
        "kind": "reservation",
        "delta_on_hand": "0",
        "reference": order.number,
    } in ledger


def test_stock_count_is_previewed_then_becomes_ledger_adjustments(manager):
    product = stocked_product(on_hand=10)
    unchanged = stocked_product(on_hand=4)
    client = client_for(manager)

    page, html, hidden = import_csv(
        client, "/admin/inventory/stockitem/", f"sku,counted\n{product.sku},7\n{unchanged.sku},4\n"
    )
    assert page.status_code == 200
    assert "Confirm import" in html and hidden.get("import_file_name")
    item = StockItem.objects.get(product=product)
    assert item.on_hand == 10  # the preview wrote nothing
    assert not StockMovement.objects.filter(kind="adjustment").exists()

    done = client.post("/admin/inventory/stockitem/process_import/", hidden, follow=True)
    assert done.status_code == 200
    item.refresh_from_db()
    assert item.on_hand == 7
    movement = StockMovement.objects.get(kind="adjustment")
    assert (movement.stock_item_id, movement.delta_on_hand, movement.actor_id) == (
        item.pk,
        -3,
        manager.pk,
    )
    assert StockItem.objects.get(product=unchanged).on_hand == 4


def test_stock_count_with_bad_rows_shows_the_errors_and_writes_nothing(manager):
    product = stocked_product(on_hand=10)
    client = client_for(manager)

    _page, html, _hidden = import_csv(
        client,
        "/admin/inventory/stockitem/",
        f"sku,counted\n{product.sku},8\nNO-SUCH-SKU,3\n{product.sku},-1\n",
    )
    assert "No product with SKU" in html
    assert "Enter the units counted" in html
    assert "Confirm import" not in html
    assert StockItem.objects.get(product=product).on_hand == 10
    assert not StockMovement.objects.filter(kind="adjustment").exists()


def test_stock_count_below_what_is_reserved_is_a_row_error(manager, user):
    product = stocked_product(on_hand=5)
    place_order(user, {product: 4})
    _page, html, _hidden = import_csv(
        client_for(manager), "/admin/inventory/stockitem/", f"sku,counted\n{product.sku},2\n"
    )
    assert "Confirm import" not in html
    assert StockItem.objects.get(product=product).on_hand == 5


def test_product_import_previews_then_creates_products_with_stock(manager):
    CategoryFactory(slug="brewing")
    existing = ProductFactory(sku="OLD-1", name="Old name")
    client = client_for(manager)
    text = (
        "sku,name,slug,description,category,price,active\n"
        "IMP-1,Imported dripper,,Ceramic,brewing,19.90,1\n"
        f"OLD-1,New name,{existing.slug},,brewing,5.00,1\n"
    )

    _page, html, hidden = import_csv(client, "/admin/catalog/product/", text)
    assert "Confirm import" in html
    assert not Product.objects.filter(sku="IMP-1").exists()

    client.post("/admin/catalog/product/process_import/", hidden)
    made = Product.objects.get(sku="IMP-1")
    assert (made.name, made.slug, str(made.price)) == (
        "Imported dripper",
        "imported-dripper",
        "19.90",
    )
    assert StockItem.objects.filter(product=made).exists()
    existing.refresh_from_db()
    assert existing.name == "New name"


def test_product_import_shows_row_errors_first(manager):
    _page, html, _hidden = import_csv(
        client_for(manager),
        "/admin/catalog/product/",
        "sku,name,slug,description,category,price,active\nBAD-1,Bad,,,,-5,1\n",
    )
    assert "Confirm import" not in html
    assert "Errors" in html or "errorlist" in html
    assert not Product.objects.filter(sku="BAD-1").exists()


def test_import_and_export_need_the_matching_permissions(db):
    product = stocked_product(on_hand=3)
    viewer = client_for(staff_with("inventory.view_stockitem", "catalog.view_product"))
    assert viewer.get("/admin/inventory/stockitem/import/").status_code == 403
    assert viewer.get("/admin/catalog/product/import/").status_code == 403
    assert viewer.get("/admin/inventory/stockitem/export/").status_code == 200
    nobody = client_for(staff_with("orders.view_order"))
    assert nobody.get("/admin/inventory/stockitem/export/").status_code == 403
    upload = SimpleUploadedFile("c.csv", f"sku,counted\n{product.sku},0\n".encode())
    viewer.post(
        "/admin/inventory/stockitem/import/",
        {"resource": "0", "format": "0", "import_file": upload},
    )
    assert StockItem.objects.get(product=product).on_hand == 3
