from collections import defaultdict

from django.db.models import F, QuerySet, Value
from django.db.models.functions import Coalesce, Greatest

from .models import Category, Product


def category_descendant_ids(*, category: Category) -> list[int]:
    """Return the ids of the category and of every category below it, in one query.

    Each id is visited once, so the walk ends even if bad data already holds a cycle.
    """
    children = defaultdict(list)
    for pk, parent_id in Category.objects.values_list("id", "parent_id"):
        children[parent_id].append(pk)
    found, seen, todo = [], set(), [category.pk]
    while todo:
        pk = todo.pop()
        if pk in seen:
            continue
        seen.add(pk)
        found.append(pk)
        todo.extend(children.get(pk, ()))
    return found


def sees_inactive(user) -> bool:
    """Staff with catalog.view_product see inactive products too; everyone else does not."""
    return bool(
        user and user.is_authenticated and user.is_staff and user.has_perm("catalog.view_product")
    )


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
