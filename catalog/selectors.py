from collections import defaultdict

from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

from .models import Category, Product


def category_descendant_ids(*, category: Category) -> list[int]:
    """Return the ids of the category and of every category below it, in one query."""
    children = defaultdict(list)
    for pk, parent_id in Category.objects.values_list("id", "parent_id"):
        children[parent_id].append(pk)
    found, todo = [], [category.pk]
    while todo:
        pk = todo.pop()
        found.append(pk)
        todo.extend(children.get(pk, ()))
    return found


def category_list() -> QuerySet[Category]:
    return Category.objects.order_by("position", "name", "id")


def product_list(*, include_inactive: bool = False) -> QuerySet[Product]:
    """Products with their category and `available` (on_hand - reserved, never below 0)."""
    # The stored search document is for the database's eyes only: never fetched.
    queryset = (
        Product.objects.select_related("category")
        .defer("search_document")
        .annotate(
            available=Greatest(
                Coalesce(F("stock__on_hand") - F("stock__reserved"), Value(0)),
                Value(0),
            )
        )
    )
    if not include_inactive:
        queryset = queryset.filter(active=True)
    return queryset


def product_get_visible(*, slug: str, include_inactive: bool = False) -> Product | None:
    return product_list(include_inactive=include_inactive).filter(slug=slug).first()
