from django.http import Http404
from django.urls import path
from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_view,
)
from rest_framework import exceptions, mixins, permissions, status, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from accounts.openapi import api_errors
from accounts.permissions import PermissionMissing, require_perms
from inventory.api import SHORT_LINES
from inventory.errors import InsufficientStock

from . import address_book, selectors, services, shipping
from .errors import (
    CartEmpty,
    EmailNotVerified,
    IdempotencyKeyReused,
    InvalidTransition,
    PaymentInProgress,
    ProductUnavailable,
)
from .filters import OrderFilter
from .serializers import (
    AddressSerializer,
    CartItemAddSerializer,
    CartItemSerializer,
    CartItemUpdateSerializer,
    CartSerializer,
    CheckoutSerializer,
    OrderDetailSerializer,
    OrderListSerializer,
    OrderTransitionSerializer,
    ShippingMethodSerializer,
)

IDEMPOTENCY_HEADER = "Idempotency-Key"
IDEMPOTENCY_KEY_MAX_LENGTH = 255

# The extra body fields of checkout's 409s: the short lines of `insufficient_stock`
# (inventory.errors.InsufficientStock.payload) and the products no longer sold of
# `product_unavailable` (ProductUnavailable.payload).
CHECKOUT_CONFLICT_FIELDS = {
    **SHORT_LINES,
    "products": {
        "type": "array",
        "description": "With `product_unavailable`: the ids of the cart's products that are "
        "no longer sold (remove them from the cart, then check out again).",
        "items": {"type": "integer"},
    },
}


def _cart_payload(cart) -> dict:
    items = selectors.cart_items(cart=cart)
    return CartSerializer({"items": items, "subtotal": services.cart_subtotal(items=items)}).data


# ------------------------------------------------------------------------------
# Cart
# ------------------------------------------------------------------------------
class CartView(APIView):
    """The signed-in user's cart."""

    @extend_schema(summary="Get my cart", responses=CartSerializer, operation_id="cart_retrieve")
    def get(self, request):
        return Response(_cart_payload(selectors.cart_get_for_user(user=request.user)))


class CartItemViewSet(mixins.DestroyModelMixin, viewsets.GenericViewSet):
    """Lines of the signed-in user's cart."""

    serializer_class = CartItemSerializer
    http_method_names = ("post", "patch", "delete", "head", "options")
    filter_backends = ()

    def get_object(self):
        cart = selectors.cart_get_for_user(user=self.request.user)
        item = selectors.cart_item_get(cart=cart, item_id=self.kwargs.get("pk"))
        if item is None:
            raise Http404("No such cart item.")
        return item

    def get_queryset(self):  # for the schema only
        return CartItemSerializer.Meta.model.objects.none()

    @extend_schema(
        summary="Add a product to my cart",
        request=CartItemAddSerializer,
        responses={201: CartItemSerializer},
        description="Add a product (adding to its quantity when already in the cart). "
        "Quantities above what is available are refused on `quantity`.",
    )
    def create(self, request):
        data = CartItemAddSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        cart = services.cart_get_or_create(user=request.user)
        item = services.cart_item_add(
            cart=cart,
            product_id=data.validated_data["product"],
            quantity=data.validated_data["quantity"],
        )
        return Response(CartItemSerializer(item).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        summary="Change a cart line's quantity",
        request=CartItemUpdateSerializer,
        responses=CartItemSerializer,
    )
    def partial_update(self, request, pk=None):
        item = self.get_object()
        data = CartItemUpdateSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        item = services.cart_item_update(item=item, **data.validated_data)
        return Response(CartItemSerializer(item).data)

    @extend_schema(summary="Remove a cart line", responses={204: None})
    def destroy(self, request, pk=None):
        services.cart_item_remove(item=self.get_object())
        return Response(status=status.HTTP_204_NO_CONTENT)


# ------------------------------------------------------------------------------
# Orders
# ------------------------------------------------------------------------------
CAN_TRANSITION = require_perms("orders.view_order", "orders.transition_order")


@extend_schema_view(
    list=extend_schema(
        summary="List my orders (staff: every order with all=true)",
        parameters=[
            OpenApiParameter("all", bool, description="Staff: every order, not only their own"),
            OpenApiParameter("page_size", int, description="Items per page, up to 100"),
        ],
    ),
    retrieve=extend_schema(summary="Get an order", responses={200: OrderDetailSerializer}),
)
class OrderViewSet(viewsets.ReadOnlyModelViewSet):
    """The user's orders (staff: any order), checkout, cancel and staff transitions."""

    lookup_field = "number"
    lookup_value_regex = r"[A-Za-z0-9\-]{1,20}"
    filter_backends = (DjangoFilterBackend,)
    filterset_class = OrderFilter

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.order_list().none()
        if self.action == "list":
            user = self.request.user
            show_all = user.is_staff and self.request.query_params.get("all") in ("true", "1")
            if show_all and not selectors.sees_every_order(user):
                raise PermissionMissing()  # shoppers' ?all= is ignored; staff need the right
            return selectors.order_list(user=None if show_all else user)
        return selectors.order_detail_queryset()

    def get_serializer_class(self):
        if self.action == "list":
            return OrderListSerializer
        if self.action == "create":
            return CheckoutSerializer
        if self.action == "transition":
            return OrderTransitionSerializer
        return OrderDetailSerializer

    def get_throttles(self):
        # Only checkout is limited by the "checkout" rate (ScopedRateThrottle is a default).
        self.throttle_scope = "checkout" if self.action == "create" else None
        return super().get_throttles()

    def get_object(self):
        order = selectors.order_get_for_user(
            number=self.kwargs[self.lookup_field], user=self.request.user
        )
        if order is None:
            user = self.request.user
            if user.is_staff and selectors.order_exists(number=self.kwargs[self.lookup_field]):
                raise PermissionMissing()  # staff without orders.view_order
            raise Http404("No such order.")
        return order

    def _detail(self, order, status_code=status.HTTP_200_OK):
        order = selectors.order_get_for_user(number=order.number, user=self.request.user)
        data = OrderDetailSerializer(order, context=self.get_serializer_context()).data
        return Response(data, status=status_code)

    @extend_schema(
        summary="Check out: turn the cart into an order",
        request=CheckoutSerializer,
        parameters=[
            OpenApiParameter(
                IDEMPOTENCY_HEADER,
                str,
                OpenApiParameter.HEADER,
                required=True,
                description="A key chosen by the client, unique per checkout attempt "
                "(a UUID); retrying with the same key and body returns the same order.",
            )
        ],
        responses={
            201: OrderDetailSerializer,
            200: OpenApiResponse(OrderDetailSerializer, "Replay of an earlier request."),
            **api_errors(
                CartEmpty,
                EmailNotVerified,
                InsufficientStock,
                ProductUnavailable,
                IdempotencyKeyReused,
                extra_properties={409: CHECKOUT_CONFLICT_FIELDS},
            ),
        },
        examples=[
            OpenApiExample(
                "Checkout",
                request_only=True,
                value={
                    "shipping_address": {
                        "full_name": "Ada Lovelace",
                        "line1": "12 St James's Square",
                        "city": "London",
                        "postal_code": "SW1Y 4JH",
                        "country": "GB",
                    }
                },
            )
        ],
        description="Turn the cart into an order in `pending_payment` with its stock reserved.",
    )
    def create(self, request):
        key = (request.headers.get(IDEMPOTENCY_HEADER) or "").strip()
        if not key:
            raise exceptions.ValidationError({IDEMPOTENCY_HEADER: ["This header is required."]})
        if len(key) > IDEMPOTENCY_KEY_MAX_LENGTH:
            raise exceptions.ValidationError(
                {IDEMPOTENCY_HEADER: [f"At most {IDEMPOTENCY_KEY_MAX_LENGTH} characters."]}
            )
        data = CheckoutSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        order, created = services.order_checkout(
            user=request.user,
            shipping_address=data.validated_data["shipping_address"],
            shipping_method_id=data.validated_data["shipping_method"],
            idempotency_key=key,
        )
        if created:  # the service hands back the order with its lines and event: no re-read
            order = selectors.order_detail_from_checkout(order)
            data = OrderDetailSerializer(order, context=self.get_serializer_context()).data
            return Response(data, status=status.HTTP_201_CREATED)
        return self._detail(order, status.HTTP_200_OK)

    @extend_schema(
        summary="Cancel my unpaid order",
        request=None,
        responses={
            200: OrderDetailSerializer,
            **api_errors(InvalidTransition, PaymentInProgress),
        },
        description="Cancel an unpaid order (owner or staff); its reserved stock is released.",
    )
    @action(detail=True, methods=["post"])
    def cancel(self, request, number=None):
        order = self.get_object()
        if order.user_id != request.user.pk and not request.user.has_perm(
            "orders.transition_order"
        ):
            raise PermissionMissing()  # staff cancelling someone else's order
        services.order_cancel_unpaid(order=order, actor=request.user)
        return self._detail(order)

    @extend_schema(
        summary="Move an order to another status (staff)",
        request=OrderTransitionSerializer,
        responses={
            200: OrderDetailSerializer,
            **api_errors(InvalidTransition, PaymentInProgress),
        },
        description="Staff: move the order to another status along the lifecycle.",
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_TRANSITION])
    def transition(self, request, number=None):
        order = self.get_object()
        data = OrderTransitionSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        services.order_transition_by_staff(
            order=order,
            to_status=data.validated_data["status"],
            actor=request.user,
            note=data.validated_data["note"],
        )
        return self._detail(order)


# ------------------------------------------------------------------------------
# Shipping methods and the address book
# ------------------------------------------------------------------------------
@extend_schema_view(
    list=extend_schema(
        summary="List shipping methods (for a country)",
        parameters=[
            OpenApiParameter("country", str, description="Only methods delivering there (ISO)")
        ],
    )
)
class ShippingMethodViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The active shipping methods, the default (used when checkout names none) first."""

    serializer_class = ShippingMethodSerializer
    permission_classes = (permissions.AllowAny,)
    pagination_class = None
    filter_backends = ()

    def get_queryset(self):
        country = (self.request.query_params.get("country") or "").upper()[:2]
        return shipping.shipping_method_list(country=country or None)


@extend_schema_view(
    list=extend_schema(summary="List my addresses, the default first"),
    create=extend_schema(summary="Add an address to my address book"),
    retrieve=extend_schema(summary="Get one of my addresses"),
    partial_update=extend_schema(summary="Change one of my addresses"),
    destroy=extend_schema(summary="Delete one of my addresses"),
)
class AddressViewSet(viewsets.ModelViewSet):
    """The user's address book; at most one address is the default."""

    serializer_class = AddressSerializer
    pagination_class = None
    filter_backends = ()
    http_method_names = ("get", "post", "patch", "delete", "head", "options")

    def get_queryset(self):
        if getattr(self, "swagger_fake_view", False):
            return selectors.Address.objects.none()
        return selectors.Address.objects.filter(user=self.request.user).order_by(
            "-is_default", "-created_at", "-id"
        )

    def perform_create(self, serializer):
        data = dict(serializer.validated_data)
        make_default = data.pop("is_default", False)
        serializer.instance = address_book.address_create(
            user=self.request.user, data=data, make_default=make_default
        )

    def perform_update(self, serializer):
        data = {**serializer.instance.as_shipping_address(), **serializer.validated_data}
        make_default = data.pop("is_default", False)
        serializer.instance = address_book.address_update(
            address=serializer.instance, data=data, make_default=make_default
        )

    def perform_destroy(self, instance):
        address_book.address_delete(address=instance)


router = SimpleRouter()
router.register("cart/items", CartItemViewSet, basename="cart-item")
router.register("orders", OrderViewSet, basename="order")
router.register("shipping-methods", ShippingMethodViewSet, basename="shipping-method")
router.register("addresses", AddressViewSet, basename="address")

urlpatterns = [
    path("cart/", CartView.as_view(), name="cart"),
    *router.urls,
]
