from django.conf import settings
from django_countries.serializer_fields import CountryField
from drf_spectacular.extensions import OpenApiSerializerFieldExtension
from drf_spectacular.plumbing import ResolvedComponent
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from . import shipping
from .models import (
    MAX_LINE_QUANTITY,
    Address,
    CartItem,
    Order,
    OrderEvent,
    OrderLine,
    OrderStatus,
    ShippingMethod,
)

# ------------------------------------------------------------------------------
# Cart
# ------------------------------------------------------------------------------


class CartItemSerializer(serializers.ModelSerializer):
    unit_price = serializers.DecimalField(
        source="product.price", max_digits=10, decimal_places=2, read_only=True
    )
    line_total = serializers.SerializerMethodField()
    name = serializers.CharField(source="product.name", read_only=True)

    class Meta:
        model = CartItem
        fields = ("id", "product", "name", "quantity", "unit_price", "line_total")
        read_only_fields = fields

    @extend_schema_field(serializers.DecimalField(max_digits=12, decimal_places=2))
    def get_line_total(self, item) -> str:
        return f"{item.product.price * item.quantity:.2f}"


class CartSerializer(serializers.Serializer):
    items = CartItemSerializer(many=True)
    subtotal = serializers.DecimalField(max_digits=12, decimal_places=2)
    free_shipping_remaining = serializers.SerializerMethodField(
        help_text="How much more buys free shipping with the default method; "
        '"0.00": it ships free already; null: shipping is never free.'
    )

    @extend_schema_field(serializers.DecimalField(max_digits=12, decimal_places=2, allow_null=True))
    def get_free_shipping_remaining(self, cart) -> str | None:
        remaining = shipping.free_shipping_remaining(subtotal=cart["subtotal"])
        return None if remaining is None else f"{remaining:.2f}"


class CartItemAddSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1, max_value=2**63 - 1)
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


class CartItemUpdateSerializer(serializers.Serializer):
    quantity = serializers.IntegerField(min_value=1, max_value=MAX_LINE_QUANTITY)


# ------------------------------------------------------------------------------
# Orders
# ------------------------------------------------------------------------------


class OrderStatusField(serializers.ChoiceField):
    """An order status; the schema describes it once, as the `OrderStatus` component."""

    def __init__(self, **kwargs):
        super().__init__(choices=OrderStatus.choices, **kwargs)


class OrderStatusFieldExtension(OpenApiSerializerFieldExtension):
    # A named component instead of a per-field enum: "status" is also the name of other
    # apps' choice sets, and the enum post-processing would otherwise hash-name ours.
    target_class = OrderStatusField

    def map_serializer_field(self, auto_schema, direction):
        component = ResolvedComponent(
            name="OrderStatus",
            type=ResolvedComponent.SCHEMA,
            object="OrderStatus",
            schema={
                "type": "string",
                "enum": list(OrderStatus.values),
                "description": "\n".join(f"* `{v}` - {label}" for v, label in OrderStatus.choices),
            },
        )
        auto_schema.registry.register_on_missing(component)
        return component.ref


class IsoCountryField(CountryField):
    """An ISO 3166-1 alpha-2 code (any case); names and other codes are refused, not guessed.

    Documented as a two-letter string, not a 250-value enum: clients keep sending plain
    strings, and a code the list gains later does not break generated clients.
    """

    def _setup_spectacular_annotation(self):
        self._spectacular_annotation = {
            "field": {
                "type": "string",
                "pattern": "^[A-Za-z]{2}$",
                "minLength": 2,
                "maxLength": 2,
                "example": "DE",
            }
        }

    def to_internal_value(self, data):
        if not isinstance(data, str) or len(data) != 2 or not data.isalpha():
            self.fail("invalid_choice", input=data)
        return super().to_internal_value(data.upper())


class ShippingAddressSerializer(serializers.Serializer):
    full_name = serializers.CharField(max_length=200, trim_whitespace=True)
    line1 = serializers.CharField(max_length=200)
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")
    city = serializers.CharField(max_length=100)
    postal_code = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$",
        max_length=12,
        error_messages={"invalid": "Enter a valid postal code."},
    )
    country = IsoCountryField(
        help_text="ISO 3166-1 alpha-2 country code, e.g. DE (Germany; GE is Georgia).",
        error_messages={"invalid_choice": "Enter an ISO country code, such as DE."},
    )

    def validate_postal_code(self, value):
        return value.upper()


class CheckoutSerializer(serializers.Serializer):
    shipping_address = ShippingAddressSerializer()
    shipping_method = serializers.IntegerField(
        min_value=1,
        max_value=2**63 - 1,
        required=False,
        allow_null=True,
        default=None,
        help_text="A shipping method id (GET /api/v1/shipping-methods/); "
        "without it, the first method that ships to the address's country.",
    )


class ShippingMethodSerializer(serializers.ModelSerializer):
    countries = serializers.SerializerMethodField(
        help_text="ISO codes it ships to; empty: every country."
    )

    class Meta:
        model = ShippingMethod
        fields = ("id", "name", "price", "free_over", "delivery_estimate", "countries")
        read_only_fields = fields

    def get_countries(self, method) -> list[str]:
        return [country.code for country in method.countries]


class AddressSerializer(serializers.ModelSerializer):
    country = IsoCountryField(
        error_messages={"invalid_choice": "Enter an ISO country code, such as DE."}
    )
    postal_code = serializers.RegexField(
        r"^[A-Za-z0-9][A-Za-z0-9 \-]{1,11}$",
        max_length=12,
        error_messages={"invalid": "Enter a valid postal code."},
    )
    line2 = serializers.CharField(max_length=200, required=False, allow_blank=True, default="")

    class Meta:
        model = Address
        fields = (
            "id",
            "full_name",
            "line1",
            "line2",
            "city",
            "postal_code",
            "country",
            "is_default",
        )
        read_only_fields = ("id",)


class OrderLineSerializer(serializers.ModelSerializer):
    class Meta:
        model = OrderLine
        fields = ("product", "sku", "name", "unit_price", "quantity", "line_total")
        read_only_fields = fields


class OrderEventSerializer(serializers.ModelSerializer):
    """A step of the order's history in words for the shopper (staff notes stay in the admin)."""

    status = OrderStatusField(source="to_status", read_only=True)
    from_status = serializers.CharField(help_text="The status before; empty when placed.")
    note = serializers.CharField(
        source="shopper_note",
        read_only=True,
        help_text="What this step means, written for the shopper; may be empty.",
    )

    class Meta:
        model = OrderEvent
        fields = ("status", "from_status", "at", "note")
        read_only_fields = fields


class OrderPaymentSerializer(serializers.Serializer):
    """A payment of the order, read through `order.payments` (payments owns the model)."""

    id = serializers.IntegerField()
    status = serializers.CharField()
    amount = serializers.DecimalField(max_digits=12, decimal_places=2)
    currency = serializers.CharField(default=settings.SHOP_CURRENCY)
    method = serializers.CharField(
        source="shopper_method_label",
        help_text='How the shopper paid, in their words (e.g. "Card"), not the gateway.',
    )
    created_at = serializers.DateTimeField()


class OrderListSerializer(serializers.ModelSerializer):
    status = OrderStatusField(read_only=True)
    item_count = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Order
        fields = (
            "number",
            "status",
            "subtotal",
            "shipping",
            "total",
            "currency",
            "item_count",
            "placed_at",
            "paid_at",
            "reservation_expires_at",
        )
        read_only_fields = fields


class OrderDetailSerializer(serializers.ModelSerializer):
    status = OrderStatusField(read_only=True)
    lines = OrderLineSerializer(many=True, read_only=True)
    events = OrderEventSerializer(many=True, read_only=True)
    payments = serializers.SerializerMethodField(
        help_text="The order's payments: for its owner, and for staff with "
        "payments.view_payment (empty for other staff)."
    )
    email = serializers.EmailField(read_only=True)
    shipping_address = ShippingAddressSerializer(read_only=True)

    class Meta:
        model = Order
        fields = (
            "number",
            "status",
            "email",
            "lines",
            "subtotal",
            "shipping",
            "shipping_method_name",
            "total",
            "currency",
            "shipping_address",
            "placed_at",
            "paid_at",
            "reservation_expires_at",
            "events",
            "payments",
        )
        read_only_fields = fields

    @extend_schema_field(OrderPaymentSerializer(many=True))
    def get_payments(self, order):
        """The owner sees their payments; other staff only with payments.view_payment."""
        if not hasattr(Order, "payments"):
            return []
        user = getattr(self.context.get("request"), "user", None)
        if user is None or not user.is_authenticated:
            return []
        if user.pk != order.user_id and not user.has_perm("payments.view_payment"):
            return []
        return OrderPaymentSerializer(order.payments.all(), many=True).data


class OrderTransitionSerializer(serializers.Serializer):
    status = OrderStatusField()
    note = serializers.CharField(max_length=500, required=False, allow_blank=True, default="")
