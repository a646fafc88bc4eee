"""Staff-only inventory API: stock levels, receiving and adjusting, the ledger and alerts."""

from django_filters.rest_framework import DjangoFilterBackend
from drf_spectacular.utils import extend_schema
from rest_framework import mixins, routers, viewsets
from rest_framework.decorators import action
from rest_framework.response import Response

from accounts.openapi import api_errors
from accounts.permissions import require_perms

from . import selectors, services
from .errors import InsufficientStock, InvalidQuantity, StockItemExists
from .filters import StockAlertFilter, StockItemFilter, StockMovementFilter
from .serializers import (
    StockAdjustSerializer,
    StockAlertSerializer,
    StockItemCreateSerializer,
    StockItemSerializer,
    StockMovementSerializer,
    StockReceiveSerializer,
)

# Staff only, each endpoint naming its permission: anonymous callers get 401, shoppers and
# staff without it 403 `permission_denied`.
CAN_VIEW_STOCK = require_perms("inventory.view_stockitem")
CAN_ADJUST_STOCK = require_perms("inventory.view_stockitem", "inventory.adjust_stock")
CAN_VIEW_LEDGER = require_perms("inventory.view_stockmovement")
CAN_VIEW_ALERTS = require_perms("inventory.view_stockalert")
CAN_ACKNOWLEDGE_ALERTS = require_perms("inventory.view_stockalert", "inventory.change_stockalert")

# The extra body field of a 409 `insufficient_stock` (InsufficientStock.payload); checkout
# (orders.api) answers it too.
SHORT_LINES = {
    "lines": {
        "type": "array",
        "description": "With `insufficient_stock`: each line there is not enough of.",
        "items": {
            "type": "object",
            "properties": {
                "product": {"type": "integer"},
                "requested": {"type": "integer"},
                "available": {"type": "integer"},
            },
            "required": ["product", "requested", "available"],
        },
    }
}


class StockItemViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    """Stock levels per product; `?low=true` lists those at or below their threshold."""

    permission_classes = (CAN_VIEW_STOCK,)
    serializer_class = StockItemSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = StockItemFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.stock_item_list()

    def get_permissions(self):
        if self.action == "create":
            return [CAN_ADJUST_STOCK()]
        return super().get_permissions()

    @extend_schema(
        request=StockItemCreateSerializer,
        responses={
            201: StockItemSerializer,
            **api_errors(StockItemExists),
        },
    )
    def create(self, request):
        """Make the (empty) stock item of a product that has none; every new product gets one."""
        serializer = StockItemCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        item = services.stock_item_create(**serializer.validated_data)
        item = self.get_queryset().get(pk=item.pk)
        return Response(StockItemSerializer(item).data, status=201)

    @extend_schema(
        summary="Receive stock",
        request=StockReceiveSerializer,
        responses={200: StockItemSerializer, **api_errors(InvalidQuantity)},
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_ADJUST_STOCK])
    def receive(self, request, pk=None):
        """Put received units on the shelf, optionally as a batch with an expiry date."""
        item = self.get_object()
        serializer = StockReceiveSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.stock_receive(stock_item=item, actor=request.user, **serializer.validated_data)
        return Response(StockItemSerializer(item).data)

    @extend_schema(
        summary="Adjust stock on hand",
        request=StockAdjustSerializer,
        responses={
            200: StockItemSerializer,
            **api_errors(InvalidQuantity, InsufficientStock, extra_properties={409: SHORT_LINES}),
        },
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_ADJUST_STOCK])
    def adjust(self, request, pk=None):
        """Correct on_hand by a signed delta with a reason; never below what is reserved."""
        item = self.get_object()
        serializer = StockAdjustSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        services.stock_adjust(stock_item=item, actor=request.user, **serializer.validated_data)
        return Response(StockItemSerializer(item).data)


class StockMovementViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """The stock ledger, newest first; `?product=<id>` narrows it to one product."""

    permission_classes = (CAN_VIEW_LEDGER,)
    serializer_class = StockMovementSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = StockMovementFilter

    def get_queryset(self):
        return selectors.stock_movement_list()


class StockAlertViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    """Stock alerts, newest first; `?state=open` lists the ones nobody has seen yet."""

    permission_classes = (CAN_VIEW_ALERTS,)
    serializer_class = StockAlertSerializer
    filter_backends = (DjangoFilterBackend,)
    filterset_class = StockAlertFilter
    lookup_value_regex = r"\d+"

    def get_queryset(self):
        return selectors.stock_alert_list()

    @extend_schema(
        summary="Acknowledge an alert", request=None, responses={200: StockAlertSerializer}
    )
    @action(detail=True, methods=["post"], permission_classes=[CAN_ACKNOWLEDGE_ALERTS])
    def acknowledge(self, request, pk=None):
        """Mark the alert as seen; it stays unresolved until the stock recovers."""
        alert = services.stock_alert_acknowledge(alert=self.get_object(), actor=request.user)
        return Response(StockAlertSerializer(alert).data)


router = routers.SimpleRouter()
router.register("inventory/stock", StockItemViewSet, basename="inventory-stock")
router.register("inventory/movements", StockMovementViewSet, basename="inventory-movement")
router.register("inventory/alerts", StockAlertViewSet, basename="inventory-alert")

urlpatterns = router.urls
