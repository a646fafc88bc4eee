"""The demo loader stocks every demo product through the ledger, once, and gives each a
picture of its own."""

import hashlib
import re
from io import StringIO

import pytest
from django.core.management import call_command
from PIL import Image

from catalog.models import Product
from inventory.management.commands.seed_demo import demo_products
from inventory.models import StockAlert, StockItem, StockMovement
from inventory.selectors import stock_ledger_discrepancies

pytestmark = pytest.mark.django_db


def test_seed_demo_stocks_products_with_low_out_and_expiring_examples_once():
    call_command("seed_demo", stdout=StringIO())
    movements = StockMovement.objects.count()
    levels = dict(StockItem.objects.values_list("product__sku", "on_hand"))
    assert levels["COF-B1K-003"] == 0
    assert 0 < levels["TEA-003"] <= 5
    assert sum(1 for on_hand in levels.values() if on_hand > 5) >= 40
    kinds = set(StockAlert.objects.filter(state="open").values_list("kind", flat=True))
    assert kinds == {"low_stock", "out_of_stock", "batch_expiring"}
    assert stock_ledger_discrepancies() == []

    call_command("seed_demo", stdout=StringIO())
    assert StockMovement.objects.count() == movements
    assert dict(StockItem.objects.values_list("product__sku", "on_hand")) == levels


def test_seed_demo_gives_every_demo_product_a_picture_once():
    out = StringIO()
    call_command("seed_demo", stdout=out)
    skus = [sku for sku, *_ in demo_products()]
    products = list(Product.objects.filter(sku__in=skus))
    assert len(products) == len(skus)
    assert all(product.image for product in products), [p.sku for p in products if not p.image]
    digests = set()
    for product in products:
        with product.image.open("rb") as file:
            data = file.read()
        with Image.open(product.image.path) as picture:
            assert (picture.format, picture.size) == ("JPEG", (800, 800)), product.sku
        digests.add(hashlib.sha256(data).hexdigest())
    assert len(digests) == len(products)  # a picture per product, not one for all
    assert f"{len(products)} new pictures" in out.getvalue()

    names = dict(Product.objects.filter(sku__in=skus).values_list("sku", "image"))
    again = StringIO()
    call_command("seed_demo", stdout=again)
    assert "0 new pictures" in again.getvalue()
    assert dict(Product.objects.filter(sku__in=skus).values_list("sku", "image")) == names


def test_a_demo_products_page_loads_its_picture_at_once_and_the_list_lazily(client):
    call_command("seed_demo", stdout=StringIO())
    product = Product.objects.filter(active=True).exclude(image="").first()
    page = client.get(f"/products/{product.slug}/").content.decode()
    [main] = re.findall(r"<img [^>]*>", page.split("<main", 1)[1])[:1]
    assert product.image.url in main and 'alt="' + product.name in main
    assert 'loading="lazy"' not in main  # above the fold: not held back
    assert 'fetchpriority="high"' in main
    listing = client.get("/").content.decode()
    cards = re.findall(r"<img [^>]*>", listing.split("<main", 1)[1])
    assert cards and all('loading="lazy"' in card for card in cards)
