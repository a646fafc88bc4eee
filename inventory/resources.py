"""CSV export of stock levels and the ledger; CSV import of stock counts.

A stock count never writes the counters: each counted line becomes an adjustment through
`services.stock_adjust`, so the ledger explains every change. The import runs in one
transaction and shows its preview and row errors before anything is kept.
"""

from django.core.exceptions import ValidationError
from import_export import fields, resources, widgets

from . import services
from .models import StockItem, StockMovement


class StockLevelResource(resources.ModelResource):
    sku = fields.Field(attribute="product__sku", column_name="sku")
    product = fields.Field(attribute="product__name", column_name="product")
    available = fields.Field(attribute="available", column_name="available")

    class Meta:
        model = StockItem
        name = "Stock levels"
        fields = ("sku", "product", "on_hand", "reserved", "available", "low_stock_threshold")
        export_order = fields

    def get_queryset(self):
        return super().get_queryset().select_related("product")


class StockCountResource(resources.ModelResource):
    """Rows of `sku,counted`: the shelf holds `counted` units; the difference is adjusted."""

    sku = fields.Field(attribute="product__sku", column_name="sku", readonly=True)
    product = fields.Field(attribute="product__name", column_name="product", readonly=True)
    on_hand = fields.Field(attribute="on_hand", column_name="on_hand", readonly=True)
    counted = fields.Field(
        attribute="counted", column_name="counted", widget=widgets.IntegerWidget()
    )

    class Meta:
        model = StockItem
        name = "Stock count (sku, counted)"
        fields = ("sku", "product", "on_hand", "counted")
        import_id_fields = ("sku",)
        skip_unchanged = True
        report_skipped = True

    def get_queryset(self):
        return super().get_queryset().select_related("product")

    def dehydrate_counted(self, item):
        return getattr(item, "counted", "")

    def init_instance(self, row=None):
        raise ValidationError({"sku": f"No product with SKU {row.get('sku')!r} has stock."})

    def before_import_row(self, row, **kwargs):
        if row.get("sku") is not None:
            row["sku"] = str(row["sku"]).strip()
        counted = row.get("counted")
        try:
            if counted is None or str(counted).strip() == "" or int(str(counted)) < 0:
                raise ValueError
        except ValueError:
            raise ValidationError({"counted": "Enter the units counted (0 or more)."}) from None

    def skip_row(self, instance, original, row, import_validation_errors=None):
        return not import_validation_errors and instance.counted == instance.on_hand

    def save_instance(self, instance, is_create, row, **kwargs):
        delta = instance.counted - instance.on_hand
        services.stock_adjust(
            stock_item=instance,
            delta=delta,
            reason=f"Stock count: {instance.counted} counted, {instance.on_hand} recorded.",
            actor=kwargs.get("user"),
        )


class StockMovementResource(resources.ModelResource):
    sku = fields.Field(attribute="stock_item__product__sku", column_name="sku")
    product = fields.Field(attribute="stock_item__product__name", column_name="product")
    batch = fields.Field(attribute="batch__number", column_name="batch")
    actor = fields.Field(attribute="actor__email", column_name="actor")

    class Meta:
        model = StockMovement
        name = "Ledger"
        fields = (
            "created_at",
            "sku",
            "product",
            "kind",
            "delta_on_hand",
            "delta_reserved",
            "reference",
            "note",
            "batch",
            "actor",
        )
        export_order = fields

    def get_queryset(self):
        return super().get_queryset().select_related("stock_item__product", "batch", "actor")
