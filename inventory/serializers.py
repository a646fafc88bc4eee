from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from catalog.models import Product

from .models import StockAlert, StockItem, StockMovement

MAX_UNITS = 1_000_000


class StockItemSerializer(serializers.ModelSerializer):
    sku = serializers.CharField(source="product.sku", read_only=True)
    name = serializers.CharField(source="product.name", read_only=True)
    available = serializers.SerializerMethodField()

    class Meta:
        model = StockItem
        fields = (
            "id",
            "product",
            "sku",
            "name",
            "on_hand",
            "reserved",
            "available",
            "low_stock_threshold",
        )
        read_only_fields = fields

    def get_available(self, item) -> int:
        return item.available


class StockItemCreateSerializer(serializers.Serializer):
    product = serializers.PrimaryKeyRelatedField(queryset=Product.objects.all())
    low_stock_threshold = serializers.IntegerField(min_value=0, max_value=MAX_UNITS, required=False)


class StockReceiveSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_UNITS)
    batch_number = serializers.CharField(
        max_length=64, required=False, allow_blank=True, default=""
    )
    expires_on = serializers.DateField(required=False, allow_null=True, default=None)

    def validate(self, attrs):
        if attrs.get("expires_on") and not attrs.get("batch_number", "").strip():
            raise serializers.ValidationError({"batch_number": ["Needed with an expiry date."]})
        return attrs


class StockAdjustSerializer(serializers.Serializer):
    delta = serializers.IntegerField(min_value=-MAX_UNITS, max_value=MAX_UNITS)
    reason = serializers.CharField(max_length=255)

    def validate_delta(self, value):
        if value == 0:
            raise serializers.ValidationError("Must not be zero.")
        return value


class StockMovementSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="stock_item.product_id", read_only=True)
    actor = serializers.SerializerMethodField()

    class Meta:
        model = StockMovement
        fields = (
            "id",
            "stock_item",
            "product",
            "kind",
            "delta_on_hand",
            "delta_reserved",
            "reference",
            "note",
            "actor",
            "created_at",
        )
        read_only_fields = fields

    @extend_schema_field(serializers.EmailField(allow_null=True))
    def get_actor(self, movement) -> str | None:
        return movement.actor.email if movement.actor_id else None


class StockAlertSerializer(serializers.ModelSerializer):
    product = serializers.IntegerField(source="stock_item.product_id", read_only=True)

    class Meta:
        model = StockAlert
        fields = (
            "id",
            "kind",
            "product",
            "stock_item",
            "state",
            "message",
            "opened_at",
            "acknowledged_at",
            "closed_at",
        )
        read_only_fields = fields
