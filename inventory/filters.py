"""Query filters of the staff inventory API."""

import django_filters
from django import forms
from django.db.models import F

from .models import StockAlert, StockItem, StockMovement

BIGINT_MAX = 2**63 - 1


class IdFilter(django_filters.Filter):
    field_class = forms.IntegerField

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("min_value", 1)
        kwargs.setdefault("max_value", BIGINT_MAX)
        super().__init__(*args, **kwargs)


class StockItemFilter(django_filters.FilterSet):
    low = django_filters.BooleanFilter(
        method="filter_low", label="At or below the low-stock threshold"
    )

    class Meta:
        model = StockItem
        fields = ("low",)

    def filter_low(self, queryset, name, value):
        if value is None:
            return queryset
        if value:
            return queryset.filter(available_units__lte=F("low_stock_threshold"))
        return queryset.filter(available_units__gt=F("low_stock_threshold"))


class StockMovementFilter(django_filters.FilterSet):
    product = IdFilter(field_name="stock_item__product_id", label="Product id")
    kind = django_filters.ChoiceFilter(choices=StockMovement.Kind.choices)

    class Meta:
        model = StockMovement
        fields = ("product", "kind")


class StockAlertFilter(django_filters.FilterSet):
    state = django_filters.ChoiceFilter(choices=StockAlert.State.choices)
    kind = django_filters.ChoiceFilter(choices=StockAlert.Kind.choices)

    class Meta:
        model = StockAlert
        fields = ("state", "kind")
