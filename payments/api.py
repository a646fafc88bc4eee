from django.http import Http404
from django.urls import path
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
)
from rest_framework import exceptions, generics, permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.client import client_ip
from accounts.openapi import api_errors
from accounts.permissions import PermissionMissing, require_perms
from accounts.throttling import ScopedRateThrottle
from orders import selectors as orders_selectors

from . import selectors, services
from .errors import (
    GatewayFailed,
    IdempotencyKeyReused,
    InvalidSignature,
    MalformedWebhook,
    OrderNotPayable,
    PaymentInProgress,
    PaymentNotRefundable,
    PaymentsError,
    RefundExceedsPayment,
    RestockNotPossible,
    SignatureExpired,
    UnknownGateway,
)
from .serializers import (
    PaymentSerializer,
    PaymentStartSerializer,
    RefundCreateSerializer,
    RefundSerializer,
    WebhookAcceptedSerializer,
    WebhookEnvelopeSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255
VIEW_PAYMENTS = "payments.view_payment"

# The extra body field of a 400 `refund_exceeds_payment` (see RefundExceedsPayment.payload).
REFUNDABLE_LEFT = {
    "refundable": {
        "type": "string",
        "format": "decimal",
        "example": "12.50",
        "description": "With `refund_exceeds_payment`: what can still be refunded on the "
        "payment, in its currency.",
    }
}


def idempotency_key(request) -> str:
    key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
    if not key:
        raise exceptions.ValidationError({IDEMPOTENCY_HEADER: ["This header is required."]})
    if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
        raise exceptions.ValidationError(
            {IDEMPOTENCY_HEADER: [f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]}
        )
    return key


class OrderPaymentsView(generics.ListAPIView):
    """An order's payments: the owner starts one; the owner and staff list them."""

    serializer_class = PaymentSerializer
    filter_backends = ()
    throttle_scope = "checkout"

    def get_throttles(self):
        if self.request.method == "POST":
            return [*super().get_throttles(), ScopedRateThrottle()]
        return super().get_throttles()

    def _own_order(self, number):
        """The shopper's own order (the row alone: paying needs nothing prefetched)."""
        order = orders_selectors.order_get_owned(number=number, user=self.request.user)
        if order is None:
            raise Http404("No such order.")
        return order

    def _order_for_read(self, number):
        """The owner reads their own order's payments; staff need payments.view_payment."""
        user = self.request.user
        order = selectors.order_get_for_payments_read(number=number, user=user)
        if order is not None and order.user_id == user.pk:
            return order
        if user.is_staff and not (user.is_active and user.has_perm(VIEW_PAYMENTS)):
            raise PermissionMissing()
        if order is None:
            raise Http404("No such order.")
        return order

    def get_queryset(self):
        order = self._order_for_read(self.kwargs["number"])
        return selectors.payment_list_for_order(order=order)

    @extend_schema(
        operation_id="orders_payments_list",
        summary="List an order's payments",
        tags=["payments"],
        responses={
            200: PaymentSerializer(many=True),
            **api_errors(
                (403, "permission_denied", "Staff without payments.view_payment."),
                (404, "not_found"),
            ),
        },
        description="The order's payments, oldest first (the owner, or staff with "
        "payments.view_payment).",
    )
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    @extend_schema(
        operation_id="orders_payments_create",
        summary="Pay an order",
        tags=["payments"],
        request=PaymentStartSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="A key chosen by the client, unique per payment attempt; retrying "
                "with the same key and body answers the same payment.",
            )
        ],
        responses={
            201: OpenApiResponse(
                PaymentSerializer,
                "The payment. Hosted checkout: `pending` with `redirect_url` (send the "
                "shopper there; the provider's webhook settles it). Dummy test cards: "
                "`succeeded`, `failed` (declined), `pending` (settles by webhook) or "
                "`review` (held by the fraud rules; the order stays unpaid).",
            ),
            200: OpenApiResponse(
                PaymentSerializer,
                "Replay of an earlier request, or the hosted checkout already open for this order.",
            ),
            **api_errors(
                UnknownGateway,
                (404, "not_found", "No such order, or not yours."),
                PaymentInProgress,
                OrderNotPayable,
                IdempotencyKeyReused,
                GatewayFailed,
            ),
        },
        examples=[
            OpenApiExample(
                "Hosted checkout",
                request_only=True,
                value={"gateway": "stripe", "return_url": "https://app.example.com/paid"},
            ),
            OpenApiExample(
                "Dummy test card (development)",
                request_only=True,
                value={"gateway": "dummy", "card_number": "4242424242424242"},
            ),
        ],
        description="Pay an order awaiting payment; the amount is always the order's total. "
        "The shop never receives a card number from a real gateway's shoppers: it answers "
        "with the provider's `redirect_url`.",
    )
    def post(self, request, number):
        key = idempotency_key(request)
        order = self._own_order(number)
        data = PaymentStartSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        fields = data.validated_data
        payment, created = services.payment_start(
            order=order,
            gateway=fields["gateway"],
            details={"card_number": fields.get("card_number", "")},
            idempotency_key=key,
            ip_address=client_ip(request),
            return_url=fields.get("return_url", ""),
            cancel_url=fields.get("cancel_url", ""),
        )
        return Response(
            PaymentSerializer(payment).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class WebhookView(APIView):
    """A provider's event: verified over the raw body, stored once, processed once."""

    authentication_classes = ()
    permission_classes = (permissions.AllowAny,)
    # Only refused requests are counted (per client address): a provider's signed
    # deliveries are never turned away, and a flood of unsigned posts past the rate is
    # answered 429 without being stored.
    throttle_classes = ()
    throttle_scope = "webhook"
    raw_body = True  # verified and parsed by the gateway, never by DRF's parsers

    def _refusal_recorded(self, request) -> bool:
        throttle = ScopedRateThrottle()
        if throttle.allow_request(request, self):
            return True
        self.refusal_wait = throttle.wait()
        return False

    @extend_schema(
        operation_id="payments_webhooks_receive",
        summary="Receive a payment provider's event (signed)",
        request=WebhookEnvelopeSerializer,
        auth=[],
        parameters=[
            OpenApiParameter(
                "X-Signature",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description='Dummy gateway: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw '
                "body>\">` with the gateway's webhook secret; at most 5 minutes old.",
            ),
            OpenApiParameter(
                "Stripe-Signature",
                str,
                OpenApiParameter.HEADER,
                required=False,
                description="Stripe: checked by the Stripe SDK with STRIPE_WEBHOOK_SECRET.",
            ),
        ],
        responses={
            200: OpenApiResponse(
                WebhookAcceptedSerializer,
                "Verified and stored (or already stored: `duplicate`); processed once, "
                "after, by a worker. A settling event must match the payment's amount, "
                "currency and gateway; one that does not holds the payment for review.",
            ),
            **api_errors(
                UnknownGateway,
                InvalidSignature,
                SignatureExpired,
                MalformedWebhook,
                (429, "throttled", "Too many refused requests from this address."),
            ),
        },
        description="Webhook endpoint for payment providers (no authentication: signed).",
    )
    def post(self, request, gateway):
        self.refusal_wait = None
        try:
            event, created = services.webhook_receive(
                gateway=gateway,
                body=request.body,
                headers=request.headers,
                record_refusal=lambda: self._refusal_recorded(request),
            )
        except PaymentsError:
            if self.refusal_wait is not None:
                raise exceptions.Throttled(wait=self.refusal_wait) from None
            raise
        return Response(
            {
                "detail": "Received." if created else "Already received.",
                "event_id": event.event_id,
                "duplicate": not created,
            }
        )


class RefundCreateView(APIView):
    """Staff refund a payment, in full or in part, optionally putting the goods back."""

    permission_classes = (require_perms("payments.refund_payment"),)

    @extend_schema(
        operation_id="payments_refunds_create",
        summary="Refund a payment (staff)",
        request=RefundCreateSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="A key chosen by the client, unique per refund; retrying with the "
                "same key and body answers the same refund (never a second one).",
            )
        ],
        responses={
            201: OpenApiResponse(
                RefundSerializer,
                "Recorded; `status` is `processing` until the provider answered (a worker "
                "calls it), then `succeeded`, `pending` (confirmed by webhook) or `failed`.",
            ),
            200: OpenApiResponse(
                RefundSerializer, "Replay of an earlier request with this Idempotency-Key."
            ),
            **api_errors(
                RefundExceedsPayment,
                RestockNotPossible,
                (404, "not_found", "No such payment."),
                PaymentNotRefundable,
                IdempotencyKeyReused,
                extra_properties={400: REFUNDABLE_LEFT},
            ),
        },
        description="Refund a payment (staff, payments.refund_payment). Once the provider "
        "accepted it, a refund of the whole paid amount before shipping ends the order "
        "(refunded, goods back on the shelf); a delivered order becomes refunded or "
        "partially_refunded; with restock returned goods go back to stock. A refund the "
        "provider refuses leaves the order as it was.",
    )
    def post(self, request, payment_id):
        key = idempotency_key(request)
        payment = selectors.payment_get(payment_id=payment_id)
        if payment is None:
            raise Http404("No such payment.")
        data = RefundCreateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        refund, created = services.refund_create_once(
            payment=payment, idempotency_key=key, actor=request.user, **data.validated_data
        )
        return Response(
            RefundSerializer(refund).data,
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


# Also served on their own lean chain (config.handlers): providers' deliveries.
webhook_urlpatterns = [
    path("payments/webhooks/<str:gateway>/", WebhookView.as_view(), name="payment-webhook"),
]

urlpatterns = [
    path("orders/<str:number>/payments/", OrderPaymentsView.as_view(), name="order-payments"),
    *webhook_urlpatterns,
    path("payments/<int:payment_id>/refunds/", RefundCreateView.as_view(), name="payment-refunds"),
]
