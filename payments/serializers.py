from decimal import Decimal

from rest_framework import serializers

from .gateways import gateway_names
from .models import Payment, Refund


class PaymentSerializer(serializers.ModelSerializer):
    order = serializers.CharField(source="order.number", read_only=True)

    class Meta:
        model = Payment
        fields = (
            "id",
            "order",
            "status",
            "amount",
            "currency",
            "gateway",
            "refunded_amount",
            "failure_code",
            "created_at",
        )
        read_only_fields = fields


class PaymentStartSerializer(serializers.Serializer):
    gateway = serializers.ChoiceField(choices=())
    card_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="For the dummy gateway: 4242424242424242 (succeeds), 4000000000000002 "
        "(declined), 4000000000003220 (pending, settles by webhook).",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = gateway_names()


class RestockLineSerializer(serializers.Serializer):
    product = serializers.IntegerField(min_value=1)
    quantity = serializers.IntegerField(min_value=1, max_value=1_000_000)


class RefundCreateSerializer(serializers.Serializer):
    amount = serializers.DecimalField(max_digits=12, decimal_places=2, min_value=Decimal("0.01"))
    reason = serializers.CharField(max_length=255)
    restock = serializers.BooleanField(default=False)
    lines = RestockLineSerializer(
        many=True,
        required=False,
        help_text="With restock: what goes back on the shelf; all that has not gone back yet "
        "when left out.",
    )

    def validate(self, attrs):
        lines = attrs.pop("lines", None)
        if lines is not None and not attrs.get("restock"):
            raise serializers.ValidationError({"lines": ["Only with restock."]})
        if lines is not None:
            merged: dict[int, int] = {}
            for line in lines:
                merged[line["product"]] = merged.get(line["product"], 0) + line["quantity"]
            attrs["lines"] = merged
        return attrs


class RefundSerializer(serializers.ModelSerializer):
    class Meta:
        model = Refund
        fields = (
            "id",
            "payment",
            "amount",
            "reason",
            "restock",
            "restocked_lines",
            "status",
            "automatic",
            "created_at",
        )
        read_only_fields = fields


class WebhookEnvelopeSerializer(serializers.Serializer):
    """What a provider posts (documentation only: the raw body is what gets verified)."""

    id = serializers.CharField(max_length=255)
    type = serializers.ChoiceField(
        choices=("payment.succeeded", "payment.failed", "refund.succeeded")
    )
    data = serializers.DictField()


class WebhookAcceptedSerializer(serializers.Serializer):
    detail = serializers.CharField()
    event_id = serializers.CharField()
    duplicate = serializers.BooleanField()
