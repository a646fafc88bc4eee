"""CSV export of orders (django-import-export): what the list shows, filters included."""

from import_export import fields, resources

from .models import Order


class OrderResource(resources.ModelResource):
    status = fields.Field(attribute="get_status_display", column_name="status")

    class Meta:
        model = Order
        fields = (
            "number",
            "email",
            "status",
            "subtotal",
            "shipping",
            "total",
            "currency",
            "placed_at",
            "paid_at",
        )
        export_order = fields
