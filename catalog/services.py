"""Writes to the catalog: products and categories."""

from io import BytesIO
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.db import transaction
from django.db.models import ProtectedError
from django.utils.text import slugify

from outbox.services import task_enqueue

from .errors import CategoryInUse, ProductInUse
from .models import Category, Product
from .selectors import category_descendant_ids
from .signals import product_deleting

THUMBNAIL_SIZE = (400, 400)


def _unique_slug(model, base: str, *, exclude_pk=None) -> str:
    base = slugify(base)[:120] or "item"
    slug, n = base, 2
    taken = model.objects.exclude(pk=exclude_pk).filter(slug__startswith=base)
    existing = set(taken.values_list("slug", flat=True))
    while slug in existing:
        slug, n = f"{base}-{n}", n + 1
    return slug


def _save(instance, fields: dict):
    for name, value in fields.items():
        setattr(instance, name, value)
    instance.full_clean()
    instance.save()
    return instance


def _queue_thumbnail(product: Product) -> None:
    task_enqueue("catalog.tasks.product_thumbnail_make", product.pk)


@transaction.atomic
def product_create(*, sku: str, name: str, price, slug: str = "", **fields) -> Product:
    product = Product(sku=sku, name=name, price=price)
    product.slug = slug or _unique_slug(Product, name)
    _save(product, fields)
    if product.image:
        _queue_thumbnail(product)
    return product


@transaction.atomic
def product_update(*, product: Product, **fields) -> Product:
    image_changed = "image" in fields and fields["image"] != product.image
    _save(product, fields)
    if image_changed and product.image:
        _queue_thumbnail(product)
    return product


@transaction.atomic
def product_delete(*, product: Product) -> None:
    product_deleting.send(sender=Product, product=product)
    try:
        product.delete()
    except ProtectedError as exc:
        raise ProductInUse() from exc


def product_thumbnail_make(*, product_id: int) -> bool:
    """Render the product's thumbnail from its image; return False when there is none."""
    from PIL import Image

    product = Product.objects.filter(pk=product_id).first()
    if product is None or not product.image:
        return False
    with product.image.open("rb") as source, Image.open(source) as image:
        image = image.convert("RGB")
        image.thumbnail(THUMBNAIL_SIZE)
        out = BytesIO()
        image.save(out, format="JPEG", quality=85)
    name = f"{Path(product.image.name).stem}-thumb.jpg"
    if product.thumbnail:
        product.thumbnail.delete(save=False)
    product.thumbnail.save(name, ContentFile(out.getvalue()), save=False)
    Product.objects.filter(pk=product.pk).update(thumbnail=product.thumbnail.name)
    return True


def category_check_parent(*, category: Category, parent: Category | None) -> None:
    """Refuse a parent that is the category itself or sits below it (a cycle)."""
    if parent is None or category.pk is None:
        return
    if parent.pk in category_descendant_ids(category=category):
        raise ValidationError(
            {"parent": ["A category cannot sit below itself or below its own sub-categories."]}
        )


def _lock_tree() -> None:
    """Let one tree change run at a time, so two concurrent moves cannot close a cycle."""
    list(Category.objects.select_for_update().order_by("pk").values_list("pk", flat=True))


@transaction.atomic
def category_create(*, name: str, slug: str = "", parent: Category | None = None, **fields):
    category = Category(name=name, parent=parent)
    category.slug = slug or _unique_slug(Category, name)
    return _save(category, fields)


@transaction.atomic
def category_update(*, category: Category, **fields) -> Category:
    if "parent" in fields and fields["parent"] is not None:
        _lock_tree()
        category_check_parent(category=category, parent=fields["parent"])
    return _save(category, fields)


@transaction.atomic
def category_delete(*, category: Category) -> None:
    try:
        category.delete()
    except ProtectedError as exc:
        raise CategoryInUse() from exc


@transaction.atomic
def products_set_active(*, product_ids, active: bool) -> int:
    """Show or hide products in the shop; return how many changed."""
    return (
        Product.objects.filter(pk__in=list(product_ids))
        .exclude(active=active)
        .update(active=active)
    )
