from decimal import Decimal

from django.contrib.postgres.search import SearchVector, SearchVectorField
from django.core.validators import MinValueValidator
from django.db import models
from django.db.models import Q


class ProductSearchDocument(models.Func):
    """A product's full-text document: name (weight A) and description (weight B).

    Stored as a generated column, so a search neither re-parses the text of every match nor
    needs triggers. PostgreSQL only; other databases store an empty value (they search plainly).
    """

    output_field = SearchVectorField()

    def __init__(self, **extra):
        super().__init__(**extra)

    def as_sql(self, compiler, connection, **extra_context):
        return "''", []

    def as_postgresql(self, compiler, connection, **extra_context):
        vector = SearchVector("name", config="english", weight="A") + SearchVector(
            "description", config="english", weight="B"
        )
        return compiler.compile(vector.resolve_expression(compiler.query))

    def deconstruct(self):
        return ("catalog.models.ProductSearchDocument", (), {})


class Category(models.Model):
    """A node of the category tree; a product belongs to one category."""

    name = models.CharField(max_length=120)
    slug = models.SlugField(max_length=140, unique=True)
    parent = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="children"
    )
    description = models.TextField(blank=True)
    position = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ("position", "name")
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(
                condition=~Q(parent=models.F("id")), name="catalog_category_not_own_parent"
            ),
        ]

    def __str__(self):
        return self.name


class Product(models.Model):
    sku = models.CharField("SKU", max_length=64, unique=True)
    slug = models.SlugField(max_length=160, unique=True)
    name = models.CharField(max_length=200)
    description = models.TextField(blank=True)
    category = models.ForeignKey(
        Category, null=True, blank=True, on_delete=models.PROTECT, related_name="products"
    )
    price = models.DecimalField(
        max_digits=10, decimal_places=2, validators=[MinValueValidator(Decimal("0.00"))]
    )
    active = models.BooleanField(default=True, db_index=True)
    image = models.ImageField(upload_to="products/", blank=True)
    thumbnail = models.ImageField(upload_to="products/thumbs/", blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    search_document = models.GeneratedField(
        expression=ProductSearchDocument(),
        output_field=SearchVectorField(null=True),
        db_persist=True,
        editable=False,
    )

    class Meta:
        ordering = ("name", "id")
        constraints = [
            models.CheckConstraint(condition=Q(price__gte=0), name="catalog_product_price_gte_0"),
            models.CheckConstraint(condition=~Q(sku=""), name="catalog_product_sku_not_blank"),
        ]
        indexes = [
            models.Index(fields=["active", "price", "id"], name="catalog_prod_active_price"),
            models.Index(fields=["active", "name", "id"], name="catalog_prod_active_name"),
            models.Index(fields=["active", "created_at", "id"], name="catalog_prod_active_created"),
            models.Index(
                fields=["category", "active", "price", "id"], name="catalog_prod_cat_price"
            ),
        ]

    def __str__(self):
        return f"{self.name} ({self.sku})"


class SearchTerm(models.Model):
    """A word of some product's name: the vocabulary a misspelt search word is matched against.

    Filled by a PostgreSQL trigger on products (see the migrations); words are never removed,
    so a renamed product's old words can still correct a typo (and then find nothing).
    """

    word = models.CharField(max_length=64, unique=True)

    def __str__(self):
        return self.word
