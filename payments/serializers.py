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
            "redirect_url",
            "created_at",
        )
        read_only_fields = fields
        extra_kwargs = {
            "redirect_url": {
                "help_text": "Hosted checkout: send the shopper here to pay (the provider's "
                "page); empty otherwise."
            },
            "status": {
                "help_text": "`processing` (the gateway is being asked), `pending` (waits for "
                "the shopper on the provider's page, or the bank), `succeeded`, `failed`, "
                "`review` (held for staff), `partially_refunded`, `refunded`."
            },
        }


class PaymentStartSerializer(serializers.Serializer):
    gateway = serializers.ChoiceField(choices=())
    card_number = serializers.CharField(
        max_length=32,
        required=False,
        allow_blank=True,
        help_text="Development and tests only, dummy gateway: 4242424242424242 (succeeds), "
        "4000000000000002 (declined), 4000000000003220 (pending, settles by webhook). Leave "
        "it out for the hosted checkout (every real gateway): the answer has `redirect_url`.",
    )
    return_url = serializers.URLField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="Hosted checkout: where the provider sends the shopper after paying (an "
        "allowed origin, PAYMENT_RETURN_ORIGINS). Default: the shop's page.",
    )
    cancel_url = serializers.URLField(
        max_length=1000,
        required=False,
        allow_blank=True,
        help_text="Hosted checkout: where the provider sends a shopper who gave up.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["gateway"].choices = gateway_names()

    def _url(self, value):
        from .services.charges import return_url_allowed

        if value and not return_url_allowed(value):
            raise serializers.ValidationError("This origin is not allowed to receive shoppers.")
        return value

    def validate_return_url(self, value):
        return self._url(value)

    def validate_cancel_url(self, value):
        return self._url(value)


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
