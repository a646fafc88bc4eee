"""Order list filters shared by the API and the order history page."""

import django_filters

from .models import Order, OrderStatus


class OrderFilter(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OrderStatus.choices, empty_label="Any status")

    class Meta:
        model = Order
        fields = ("status",)
