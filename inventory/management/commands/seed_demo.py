"""Load demo data: categories, ~50 products with pictures and stock, shipping methods, a
staff user and a shopper.

Safe to run again: stock is received only for demo products whose stock has no ledger yet,
pictures are drawn only for products without one, shipping methods are made once by name.
"""

from datetime import timedelta
from decimal import Decimal

from django.apps import apps
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from catalog import services as catalog_services
from catalog.models import Category, Product
from inventory import services as inventory_services
from inventory.management.demo_images import demo_product_image
from inventory.models import StockMovement

STAFF_EMAIL = "staff@shop.example"
STAFF_PASSWORD = "staff-demo-password"
SHOPPER_EMAIL = "shopper@shop.example"
SHOPPER_PASSWORD = "shopper-demo-password"

CATEGORIES = [
    # (slug, name, parent slug)
    ("coffee", "Coffee", None),
    ("coffee-beans", "Beans", "coffee"),
    ("coffee-ground", "Ground", "coffee"),
    ("tea", "Tea", None),
    ("tea-green", "Green tea", "tea"),
    ("tea-black", "Black tea", "tea"),
    ("equipment", "Equipment", None),
    ("equipment-grinders", "Grinders", "equipment"),
    ("equipment-brewers", "Brewers", "equipment"),
    ("accessories", "Accessories", None),
]

ORIGINS = ["Ethiopia", "Colombia", "Kenya", "Brazil", "Guatemala", "Sumatra", "Rwanda"]
TEAS = ["Sencha", "Gyokuro", "Assam", "Darjeeling", "Ceylon", "Matcha"]
GEAR = [
    ("equipment-grinders", "Hand grinder", "39.00"),
    ("equipment-grinders", "Burr grinder", "149.00"),
    ("equipment-grinders", "Travel grinder", "29.50"),
    ("equipment-brewers", "Pour-over dripper", "24.00"),
    ("equipment-brewers", "French press", "34.90"),
    ("equipment-brewers", "Moka pot", "27.00"),
    ("equipment-brewers", "Cold brew jar", "21.00"),
    ("equipment-brewers", "Espresso machine", "649.00"),
    ("accessories", "Gooseneck kettle", "59.00"),
    ("accessories", "Paper filters (100)", "5.90"),
    ("accessories", "Scale with timer", "45.00"),
    ("accessories", "Ceramic mug", "14.00"),
    ("accessories", "Tea infuser", "8.50"),
    ("accessories", "Storage canister", "18.00"),
]


# Stock that shows every state on the shop front and in the admin (threshold 5 each).
OUT_OF_STOCK = {"COF-B1K-003", "GEAR-008"}
LOW_STOCK = {"TEA-003": 2, "GEAR-002": 3, "COF-G-005": 1}
EXPIRING_SOON = {"TEA-001": ("SEN-DEMO-1", 10)}  # sku: (batch number, days until expiry)


# (name, price, free over, delivery estimate, countries: empty for everywhere)
SHIPPING_METHODS = [
    ("Standard delivery", "4.90", "50.00", "3-5 working days", []),
    ("Express delivery", "12.90", "", "1-2 working days", ["DE", "AT", "NL", "BE", "FR"]),
]


def demo_stock(sku: str, position: int) -> tuple[int, str, int | None]:
    """Return (quantity, batch number, days until expiry) to receive for a demo product."""
    if sku in OUT_OF_STOCK:
        return 0, "", None
    if sku in LOW_STOCK:
        return LOW_STOCK[sku], "", None
    if sku in EXPIRING_SOON:
        number, days = EXPIRING_SOON[sku]
        return 30, number, days
    quantity = 12 + (position * 7) % 40
    if sku.startswith(("COF-", "TEA-")):
        return quantity, f"LOT-{sku}", 180
    return quantity, "", None


def demo_products():
    """Yield (sku, name, category slug, price, description) for the demo catalog."""
    for i, origin in enumerate(ORIGINS):
        yield (
            f"COF-B-{i + 1:03d}",
            f"{origin} whole beans 250 g",
            "coffee-beans",
            Decimal("9.50") + i,
            f"Single-origin beans from {origin}, roasted weekly.",
        )
        yield (
            f"COF-B1K-{i + 1:03d}",
            f"{origin} whole beans 1 kg",
            "coffee-beans",
            Decimal("32.00") + i * 2,
            f"The {origin} roast in a bag for the office.",
        )
        yield (
            f"COF-G-{i + 1:03d}",
            f"{origin} ground 250 g",
            "coffee-ground",
            Decimal("9.90") + i,
            f"{origin} ground for filter brewing.",
        )
    for i, tea in enumerate(TEAS):
        slug = "tea-green" if tea in {"Sencha", "Gyokuro", "Matcha"} else "tea-black"
        yield (f"TEA-{i + 1:03d}", f"{tea} loose leaf 100 g", slug, Decimal("7.50") + i, tea)
        yield (f"TEA-T-{i + 1:03d}", f"{tea} tea bags (20)", slug, Decimal("4.20") + i, tea)
    for i, (slug, name, price) in enumerate(GEAR):
        yield (f"GEAR-{i + 1:03d}", name, slug, Decimal(price), f"{name} for the home barista.")


class Command(BaseCommand):
    help = "Load demo categories, products and users (idempotent)."

    @transaction.atomic
    def handle(self, *args, **options):
        User = get_user_model()
        if not User.objects.filter(email=STAFF_EMAIL).exists():
            User.objects.create_superuser(STAFF_EMAIL, STAFF_PASSWORD, first_name="Sam")
        if not User.objects.filter(email=SHOPPER_EMAIL).exists():
            User.objects.create_user(
                SHOPPER_EMAIL, SHOPPER_PASSWORD, first_name="Alex", email_verified=True
            )

        categories = {c.slug: c for c in Category.objects.all()}
        for position, (slug, name, parent) in enumerate(CATEGORIES):
            if slug not in categories:
                categories[slug] = catalog_services.category_create(
                    name=name, slug=slug, parent=categories.get(parent), position=position
                )

        existing = set(Product.objects.values_list("sku", flat=True))
        created = 0
        for sku, name, category, price, description in demo_products():
            if sku in existing:
                continue
            catalog_services.product_create(
                sku=sku,
                name=name,
                price=price,
                category=categories[category],
                description=description,
            )
            created += 1

        pictured = self._pictures()
        stocked = self._stock()
        self._shipping_methods()
        call_command("roles_sync", stdout=self.stdout)
        self.stdout.write(
            self.style.SUCCESS(
                f"Demo data ready ({created} new products, {pictured} new pictures, "
                f"{stocked} newly stocked)."
            )
        )
        self.stdout.write(f"  staff:   {STAFF_EMAIL} / {STAFF_PASSWORD}  (/admin/)")
        self.stdout.write(f"  shopper: {SHOPPER_EMAIL} / {SHOPPER_PASSWORD}")

    def _pictures(self) -> int:
        """Draw a picture for each demo product that has none; return how many."""
        categories = {sku: category for sku, _, category, *_ in demo_products()}
        drawn = 0
        for product in Product.objects.filter(sku__in=categories, image=""):
            picture = demo_product_image(
                sku=product.sku, name=product.name, category=categories[product.sku]
            )
            catalog_services.product_update(
                product=product, image=ContentFile(picture, name=f"{product.sku.lower()}.jpg")
            )
            drawn += 1
        return drawn

    def _shipping_methods(self) -> None:
        """Make the demo's shipping methods (staff change them in the admin)."""
        # Looked up by name: inventory sits below orders and does not import it.
        ShippingMethod = apps.get_model("orders", "ShippingMethod")
        for position, (name, price, free_over, estimate, countries) in enumerate(SHIPPING_METHODS):
            if not ShippingMethod.objects.filter(name=name).exists():
                ShippingMethod.objects.create(
                    name=name,
                    price=Decimal(price),
                    free_over=Decimal(free_over) if free_over else None,
                    delivery_estimate=estimate,
                    countries=countries,
                    position=position,
                )

    def _stock(self) -> int:
        """Receive demo stock for demo products that have no ledger yet; return how many."""
        skus = [sku for sku, *_ in demo_products()]
        products = Product.objects.filter(sku__in=skus).in_bulk(field_name="sku")
        with_ledger = set(
            StockMovement.objects.filter(stock_item__product__sku__in=skus)
            .values_list("stock_item__product__sku", flat=True)
            .distinct()
        )
        today = timezone.localdate()
        stocked = 0
        for position, sku in enumerate(skus):
            item = inventory_services.stock_item_for_product(product=products[sku])
            quantity, batch_number, days = demo_stock(sku, position)
            if sku in with_ledger or not quantity:
                continue
            inventory_services.stock_receive(
                stock_item=item,
                quantity=quantity,
                batch_number=batch_number,
                expires_on=today + timedelta(days=days) if days is not None else None,
                reference="demo-seed",
            )
            stocked += 1
        inventory_services.stock_alerts_evaluate()
        return stocked
