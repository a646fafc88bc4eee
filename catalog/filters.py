"""Product filters shared by the API and the product list page."""

import django_filters
from django import forms

from .models import Category, Product
from .search import product_search
from .selectors import category_descendant_ids

ORDERING_CHOICES = (
    ("price", "Price, low to high"),
    ("-price", "Price, high to low"),
    ("name", "Name"),
    ("-name", "Name, Z to A"),
    ("created_at", "Oldest first"),
    ("-created_at", "Newest first"),
)


class ProductFilter(django_filters.FilterSet):
    category = django_filters.CharFilter(method="filter_category", max_length=140)
    min_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="gte", min_value=0, max_digits=10, decimal_places=2
    )
    max_price = django_filters.NumberFilter(
        field_name="price", lookup_expr="lte", min_value=0, max_digits=10, decimal_places=2
    )
    in_stock = django_filters.BooleanFilter(
        method="filter_in_stock", widget=forms.CheckboxInput, label="In stock only"
    )
    # After the other filters (the search ranks what they leave), before the ordering.
    search = django_filters.CharFilter(method="filter_search", max_length=100, label="Search")
    ordering = django_filters.ChoiceFilter(
        choices=ORDERING_CHOICES, method="filter_ordering", empty_label="Sort by"
    )

    class Meta:
        model = Product
        fields = ("category", "min_price", "max_price", "in_stock", "search", "ordering")

    def filter_search(self, queryset, name, value):
        # Ranked best match first, unless an `ordering` (applied after this) says otherwise.
        return product_search(queryset, value.strip())

    def filter_category(self, queryset, name, value):
        # is_valid() looked the category up and refused unknown slugs.
        return queryset.filter(category_id__in=category_descendant_ids(category=self.category))

    def filter_in_stock(self, queryset, name, value):
        # An unticked box (or in_stock=false) means "do not filter", not "only sold out".
        return queryset.filter(available__gt=0) if value else queryset

    def filter_ordering(self, queryset, name, value):
        return queryset.order_by(value, "id")

    def is_valid(self):
        """Validate the fields, then refuse unknown categories and inverted price ranges."""
        valid = super().is_valid()
        self.category = None
        cleaned = getattr(self.form, "cleaned_data", {})
        slug = cleaned.get("category")
        if slug:
            self.category = Category.objects.filter(slug=slug).first()
            if self.category is None:
                self.form.add_error("category", "Unknown category.")
                valid = False
        min_price, max_price = cleaned.get("min_price"), cleaned.get("max_price")
        if min_price is not None and max_price is not None and min_price > max_price:
            self.form.add_error("max_price", "Must not be below min_price.")
            valid = False
        return valid
